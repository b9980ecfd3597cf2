"""What the action server and the gateway agree on (../shared/CONTRACT.md): one home, both import it."""
