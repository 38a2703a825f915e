"""Lightning runners for short training trials."""
