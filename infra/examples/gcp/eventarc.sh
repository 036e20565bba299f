#!/usr/bin/env sh
# Documentation, not run by any test: Cloud KMS audit logs -> Eventarc -> rekey's Broker, through
# Eventarc's GKE destination (its forwarder runs in the cluster and POSTs CloudEvents to a
# Kubernetes Service: here Knative's broker ingress, at rekey's Broker path). The Trigger
# rekey-kms-gcp-audit of infra/overlays/gcp routes them to kms-event.
# Admin Activity audit logs (these method calls) are always on; no logging config needed.
# Eventarc's forwarder sends no Knative OIDC token: keep Knative sender identity off for this
# Broker, or Eventarc's events are refused. Without sender identity kms-event takes /kms-event
# only while it is cluster-local (infra/base declares it so with REKEY_KMS_EVENT_PRIVATE=true;
# components/public-kms-event removes that).
# UpdateCryptoKeyVersion (a version disabled or enabled) and RestoreCryptoKeyVersion (a scheduled
# destruction cancelled) let rekey raise and clear dangers to the key.
set -eu
PROJECT=acme-platform-prod
LOCATION=europe-west1
CLUSTER=platform-prod
TRIGGER_SA=rekey-eventarc@$PROJECT.iam.gserviceaccount.com   # needs roles/eventarc.eventReceiver

gcloud eventarc gke-destinations init --project "$PROJECT"

# Audit-log triggers take exactly one methodName each. KMS logs these under their short names
# (docs/kms-facts.md §9); check Logs Explorer for the exact form your project records.
for METHOD in CreateCryptoKeyVersion UpdateCryptoKeyPrimaryVersion UpdateCryptoKey \
  DestroyCryptoKeyVersion RestoreCryptoKeyVersion UpdateCryptoKeyVersion; do
  NAME=rekey-kms-$(echo "$METHOD" | tr '[:upper:]' '[:lower:]')
  gcloud eventarc triggers create "$NAME" --project "$PROJECT" --location "$LOCATION" \
    --destination-gke-cluster "$CLUSTER" --destination-gke-location "$LOCATION" \
    --destination-gke-namespace knative-eventing --destination-gke-service broker-ingress \
    --destination-gke-path /rekey-system/rekey \
    --event-filters type=google.cloud.audit.log.v1.written \
    --event-filters serviceName=cloudkms.googleapis.com \
    --event-filters methodName="$METHOD" \
    --service-account "$TRIGGER_SA"
done
