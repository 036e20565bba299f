#!/usr/bin/env sh
# Documentation, not run by any test: Key Vault key events -> an Event Grid subscription ->
# kms-event's /kms-event/eventgrid directly (Event Grid cannot reach a Broker's cluster-internal
# ingress, and cannot present a Knative token). kms-event must be public over HTTPS: add
# components/public-kms-event to your overlay (it takes the token from rekey-credentials key
# eventgrid-token).
#
# Authentication: the subscription sends a shared secret as a secret delivery property (a static
# header, hidden from readers of the subscription) in X-Rekey-Token; kms-event compares it with
# REKEY_EVENTGRID_TOKEN (at least 16 characters) and answers 401 without it, or when the setting
# is unset.
#
# Schema: use the Event Grid schema (eventgridschema, Azure's default). Each POST is a JSON array;
# kms-event records every Key Vault event in it and then runs one step, and answers the
# subscription-validation handshake (a SubscriptionValidationEvent whose code it echoes; it
# changes nothing, so it is answered with or without the secret). Keep max events per batch at
# 50 or less. The CloudEvents 1.0 schema (cloudeventschemav1_0) works too, one event per request:
# kms-event answers its OPTIONS abuse-protection handshake on the same path, but it cannot take
# CloudEvents batches, so leave batching off with that schema.
#
# Events: KeyNewVersionCreated (a new version: Azure/kubernetes-kms pins a version, so this is a
# KMS-to-KMS migration, docs/kms-facts.md §8; rekey looks), KeyNearExpiry and KeyExpired (raised
# as dangers). Key Vault sends no event when a key is disabled: watch that with Azure Monitor.
set -eu
SUBSCRIPTION=0b1f6471-1bf0-4dda-aec3-111122223333
VAULT_ID=/subscriptions/$SUBSCRIPTION/resourceGroups/rg-platform/providers/Microsoft.KeyVault/vaults/kv-acme-etcd
ENDPOINT=https://rekey-kms-event.rekey-system.example.com/kms-event/eventgrid
TOKEN=$(openssl rand -hex 32)

# 1. rekey's side: the secret, in the Secret the kms-event Service reads (key eventgrid-token,
#    mapped to REKEY_EVENTGRID_TOKEN).
kubectl -n rekey-system create secret generic rekey-credentials \
  --from-literal=eventgrid-token="$TOKEN" --dry-run=client -o yaml | kubectl apply -f -

# 2. Azure's side: the subscription, sending the secret as a secret header on every delivery.
az eventgrid event-subscription create \
  --name rekey-kms-keys \
  --source-resource-id "$VAULT_ID" \
  --endpoint "$ENDPOINT" \
  --endpoint-type webhook \
  --event-delivery-schema eventgridschema \
  --delivery-attribute-mapping X-Rekey-Token static "$TOKEN" true \
  --included-event-types Microsoft.KeyVault.KeyNewVersionCreated \
    Microsoft.KeyVault.KeyNearExpiry Microsoft.KeyVault.KeyExpired \
  --subject-begins-with etcd-kek \
  --max-events-per-batch 10 \
  --max-delivery-attempts 30 \
  --event-ttl 1440
