# Runs at every boot after boot.py: start the gullwing firmware.
import gullwing

print("gullwing", gullwing.VERSION)
