"""Platform adapters: the only code that knows what an HTTP event looks like."""
