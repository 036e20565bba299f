#!/usr/bin/env sh
# Documentation, not run by any test: AWS KMS events -> EventBridge rules -> an SQS queue, read in
# the cluster by the Knative IntegrationSource of integrationsource-sqs.yaml, which sends them to
# rekey's Broker (Trigger rekey-kms-aws-sqs in infra/overlays/aws routes them to kms-event).
# No public endpoint and no shared secret are needed. Two rules, because an EventBridge pattern
# ANDs its fields: the KMS lifecycle events of rekey's key, and the CloudTrail records of rotation
# calls (those name the key in `detail`, so that rule takes every key's; kms-event ignores events
# about keys other than REKEY_KMS_KEY).
set -eu
REGION=us-west-2
ACCOUNT=111122223333
QUEUE=rekey-kms-events

QUEUE_URL=$(aws sqs create-queue --region "$REGION" --queue-name "$QUEUE" \
  --attributes MessageRetentionPeriod=345600 --query QueueUrl --output text)
QUEUE_ARN="arn:aws:sqs:$REGION:$ACCOUNT:$QUEUE"

for RULE in kms-lifecycle kms-cloudtrail; do
  aws events put-rule --region "$REGION" --name "rekey-$RULE" \
    --event-pattern "file://eventbridge-pattern-$RULE.json"
  aws events put-targets --region "$REGION" --rule "rekey-$RULE" \
    --targets "Id=rekey-sqs,Arn=$QUEUE_ARN"
done

# Let EventBridge (only these two rules) write to the queue.
cat > /tmp/rekey-queue-policy.json <<POLICY
{"Policy": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"events.amazonaws.com\"},\"Action\":\"sqs:SendMessage\",\"Resource\":\"$QUEUE_ARN\",\"Condition\":{\"ArnLike\":{\"aws:SourceArn\":\"arn:aws:events:$REGION:$ACCOUNT:rule/rekey-kms-*\"}}}]}"}
POLICY
aws sqs set-queue-attributes --region "$REGION" --queue-url "$QUEUE_URL" \
  --attributes file:///tmp/rekey-queue-policy.json

# The IntegrationSource needs sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes on
# this queue only: an IAM role for its ServiceAccount (IRSA / Pod Identity) or an access key in a
# Secret, see integrationsource-sqs.yaml.
