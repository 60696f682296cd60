"""Suite fixtures come from chatcert's pytest plugin (chatcert_run, chatcert_check)."""
