"""The dashboard's screens besides the main one: nudge, calibration, settings, help, pairing."""
