# Runs at every boot after boot.py: start the gullwing firmware.
from gullwing import runner

runner.run()
