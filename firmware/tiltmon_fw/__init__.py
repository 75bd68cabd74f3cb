"""The tiltmon clip firmware's board-independent core (docs/firmware.md, docs/protocol.md).

Plain Python that runs unchanged under CircuitPython on the clip and under CPython in the
project's tests: no dataclasses, no enum, no typing at run time, no f-strings; ``struct`` and
``math`` only. The board files (``code.py``, ``board_*.py``) own the radio, the IMU and the ADC
and call in here for everything the protocol decides.
"""

FIRMWARE_VERSION = "0.1.0"
