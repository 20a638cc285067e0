"""The event and the other shapes the service speaks: input, stored record, output, policy, cursor."""
