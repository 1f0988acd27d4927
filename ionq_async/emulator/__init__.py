"""An offline emulator of the IonQ API v0.4 (placeholder)."""
