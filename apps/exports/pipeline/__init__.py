"""The export pipeline, one module per stage: read, transform (validate, policy, Arrow), write, ack."""
