"""The operating loop binding device management and network entry: profile switches proven or rolled back."""
