"""The Textual screen: it renders the desk's snapshots and sends it commands; no HTTP here."""
