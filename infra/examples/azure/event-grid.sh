#!/usr/bin/env sh
# Documentation, not run by any test: Key Vault "new key version" events -> an Event Grid
# subscription in the CloudEvents 1.0 schema -> kms-event's /kms-event directly (Event Grid cannot
# reach a Broker's cluster-internal ingress). Event Grid first validates the endpoint with the
# CloudEvents abuse-protection handshake (OPTIONS with WebHook-Request-Origin), which kms-event
# answers. kms-event must be public over HTTPS: apply ../aws/expose-kms-event-patch.yaml in your
# overlay. Event Grid sends no Knative token: with sender identity (components/sender-identity) on,
# kms-event refuses these deliveries.
# Remember (docs/kms-facts.md §8): Azure/kubernetes-kms pins a key version, so a new version is a
# KMS-to-KMS migration (infra/examples/encryption-config/azure.yaml); this event tells rekey to look.
set -eu
SUBSCRIPTION=0b1f6471-1bf0-4dda-aec3-111122223333
VAULT_ID=/subscriptions/$SUBSCRIPTION/resourceGroups/rg-platform/providers/Microsoft.KeyVault/vaults/kv-acme-etcd
ENDPOINT=https://rekey-kms-event.rekey-system.example.com/kms-event

az eventgrid event-subscription create \
  --name rekey-kms-key-versions \
  --source-resource-id "$VAULT_ID" \
  --endpoint "$ENDPOINT" \
  --endpoint-type webhook \
  --event-delivery-schema cloudeventschemav1_0 \
  --included-event-types Microsoft.KeyVault.KeyNewVersionCreated \
  --subject-begins-with etcd-kek \
  --max-delivery-attempts 30 \
  --event-ttl 1440
