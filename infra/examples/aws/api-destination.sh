#!/usr/bin/env sh
# Documentation, not run by any test: AWS KMS events -> EventBridge rule -> an API destination that
# POSTs the raw EventBridge JSON straight to kms-event's /kms-event/eventbridge, authenticated by a
# shared secret in the X-Rekey-Token header (REKEY_EVENTBRIDGE_TOKEN, at least 16 characters). No
# Knative source is involved, but kms-event must be reachable from the internet over HTTPS: apply
# add components/public-kms-event to your overlay (it takes the token from rekey-credentials key
# eventbridge-token). Public, kms-event keeps /kms-event itself closed unless Knative sender
# identity is on (components/sender-identity).
set -eu
REGION=us-west-2
ACCOUNT=111122223333
ENDPOINT=https://rekey-kms-event.rekey-system.example.com/kms-event/eventbridge
TOKEN=$(openssl rand -hex 32)

# 1. rekey's side: the token, in the Secret the kms-event Service reads (optional key
#    eventbridge-token; without it kms-event answers 401 on /kms-event/eventbridge and says so).
kubectl -n rekey-system create secret generic rekey-credentials \
  --from-literal=eventbridge-token="$TOKEN" --dry-run=client -o yaml | kubectl apply -f -

# 2. AWS's side: a connection holding the token, the API destination, and both rules targeting it.
CONNECTION_ARN=$(aws events create-connection --region "$REGION" --name rekey \
  --authorization-type API_KEY \
  --auth-parameters "{\"ApiKeyAuthParameters\":{\"ApiKeyName\":\"X-Rekey-Token\",\"ApiKeyValue\":\"$TOKEN\"}}" \
  --query ConnectionArn --output text)
DESTINATION_ARN=$(aws events create-api-destination --region "$REGION" --name rekey-kms-event \
  --connection-arn "$CONNECTION_ARN" --invocation-endpoint "$ENDPOINT" --http-method POST \
  --invocation-rate-limit-per-second 1 --query ApiDestinationArn --output text)

# EventBridge needs a role it may assume with events:InvokeApiDestination on that destination.
ROLE_ARN="arn:aws:iam::$ACCOUNT:role/rekey-eventbridge-invoke"
for RULE in kms-lifecycle kms-cloudtrail; do
  aws events put-rule --region "$REGION" --name "rekey-$RULE" \
    --event-pattern "file://eventbridge-pattern-$RULE.json"
  aws events put-targets --region "$REGION" --rule "rekey-$RULE" \
    --targets "Id=rekey-api,Arn=$DESTINATION_ARN,RoleArn=$ROLE_ARN,RetryPolicy={MaximumRetryAttempts=20,MaximumEventAgeInSeconds=86400}"
done
