"""Who owns the engine's throttle: one owner at a time, by a rule a user can predict.

The transmitter (an RC receiver's throttle channel) owns it while its stick is off idle, and while its
failsafe holds (throttle closed until the stick is seen at neutral again). Otherwise the host does: a
`throttle` or `blip` request from the serial console, the second UART or any other channel. A request
while the transmitter owns it is refused (`err busy`), so the throttle never changes behind anyone's back.
The transmitter takes the throttle as soon as its stick leaves idle, whatever the host set, and closes it
when the stick comes back to idle, handing it back to the host.
"""

from gullwing.rcin import CONTROL, FAILSAFE

HOST = "host"
RC = "rc"


class Throttle:
    def __init__(self, engine):
        self.engine = engine
        self.owner = HOST
        self._failsafe = False

    def follow(self, rc):
        """Every tick, with the receiver polled: the transmitter takes, holds or hands back the throttle."""
        self._failsafe = rc.state == FAILSAFE
        if self._failsafe:
            self.owner = RC  # closed at the failsafe, kept closed until the stick is back at neutral
        elif rc.state == CONTROL and rc.throttle_pct:
            self.owner = RC
            self.engine.throttle(rc.throttle_pct)
        elif self.owner == RC:
            self.owner = HOST
            self.engine.throttle(0)  # the stick back at idle (or the signal just back at neutral)

    def busy(self):
        """Why the host may not set the throttle now, or None."""
        if self.owner == HOST:
            return None
        if self._failsafe:
            return "the RC failsafe holds the throttle closed until the transmitter's stick is at idle"
        return "the transmitter holds the throttle; bring its stick to idle first"
