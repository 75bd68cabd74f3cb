"""tiltmon's host side: BLE client, decoding, fusion, posture, nudges and the terminal UI."""

__version__ = "0.1.0"
