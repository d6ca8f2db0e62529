"""gullwing: firmware for an animated Autozam AZ-1 scale model (ESP32, MicroPython).

The package version below is the one version of the whole project: the host tools read it too.
"""

VERSION = "0.1.0"
