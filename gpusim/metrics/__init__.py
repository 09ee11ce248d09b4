"""Recording during a run (flat records) and the headline metrics computed at the end."""
