"""Trace of every output change on the simulated board, written as CSV.

Rows go into preallocated integer columns, so recording a row allocates nothing in steady state
(the firmware's allocation probes run with the simulator underneath them). With a sink file the
buffer is flushed as CSV whenever it fills and on close; without one it grows in memory, or keeps the
latest rows only (keep_all=False: the virtual board without a trace file). With a live
stream (the virtual board's pipe to its host) each row also leaves at once as ROW_BYTES of binary,
written from a preallocated row: no allocation on the firmware's tick, and the host (csv_text())
turns them into CSV lines while the board runs.
"""

from array import array

HEADER = "t_us,pin,freq_hz,duty_ns,kind,level"

# kind of an output change
PWM = 0  # LEDC output: freq_hz and duty_ns describe the pulses
GPIO = 1  # plain digital output: level is the driven value
OFF = 2  # output released (PWM deinit, pin back to input): nothing driven
KINDS = ("pwm", "gpio", "off")
FIELDS = 6  # t_us, pin, freq_hz, duty_ns, kind, level
ROW_BYTES = 8 * FIELDS  # a live row: six signed 64-bit ints in the machine's byte order


class Row:
    def __init__(self, t_us, pin, freq_hz, duty_ns, kind, level):
        self.t_us = t_us
        self.pin = pin
        self.freq_hz = freq_hz
        self.duty_ns = duty_ns
        self.kind = KINDS[kind]
        self.level = level

    def __repr__(self):
        return "Row(" + csv_line(self.t_us, self.pin, self.freq_hz, self.duty_ns, self.kind, self.level) + ")"


def csv_line(t_us, pin, freq_hz, duty_ns, kind, level):
    return ",".join((str(t_us), str(pin), str(freq_hz), str(duty_ns), kind, str(level)))


class Trace:
    def __init__(self, capacity=1024, sink=None, header=True, live=None, keep_all=True):
        """`keep_all=False`: memory keeps the latest `capacity` rows only (the rest went to `live`, or
        nowhere), so that recording never allocates."""
        self._cols = [array("q", bytes(8 * capacity)) for _ in range(FIELDS)]
        self._n = 0
        self._flushed = 0
        self._sink = sink
        self._live = live
        self._keep_all = keep_all and live is None
        self._row = array("q", bytes(ROW_BYTES))
        if sink is not None and header:  # no header when appending to an earlier boot's trace
            sink.write(HEADER + "\n")

    def __len__(self):
        return self._flushed + self._n

    def record(self, t_us, pin, freq_hz, duty_ns, kind, level):
        if self._n == len(self._cols[0]):
            self._make_room()
        n = self._n
        cols = self._cols
        cols[0][n] = t_us
        cols[1][n] = pin
        cols[2][n] = freq_hz
        cols[3][n] = duty_ns
        cols[4][n] = kind
        cols[5][n] = level
        self._n = n + 1
        live = self._live
        if live is not None:
            row = self._row
            row[0] = t_us
            row[1] = pin
            row[2] = freq_hz
            row[3] = duty_ns
            row[4] = kind
            row[5] = level
            live.write(row)  # one write of fewer bytes than PIPE_BUF: never torn on a pipe

    def _make_room(self):
        if self._sink is not None:
            self.flush()
        elif not self._keep_all:  # every row is out already (or wanted nowhere): keep only the latest
            self._flushed += self._n
            self._n = 0
        else:
            for col in self._cols:
                col.extend(array("q", bytes(8 * len(col))))

    def rows(self, pin=None):
        """Rows still in memory (all of them unless a sink, a live stream or keep_all=False), oldest first."""
        cols = self._cols
        out = []
        for i in range(self._n):
            if pin is None or cols[1][i] == pin:
                out.append(Row(cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i]))
        return out

    def last(self, pin):
        rows = self.rows(pin)
        return rows[-1] if rows else None

    def write_csv(self, stream):
        stream.write(HEADER + "\n")
        self._write_rows(stream)

    def _write_rows(self, stream):
        cols = self._cols
        for i in range(self._n):
            stream.write(csv_line(cols[0][i], cols[1][i], cols[2][i], cols[3][i], KINDS[cols[4][i]],
                                  cols[5][i]) + "\n")

    def flush(self):
        if self._sink is None:
            return
        self._write_rows(self._sink)
        self._sink.flush()
        self._flushed += self._n
        self._n = 0

    def clear(self):
        self._n = 0
        self._flushed = 0


def csv_text(raw):
    """CSV lines (no header) for whole live rows in `raw` (a multiple of ROW_BYTES)."""
    values = array("q", raw)
    out = []
    for i in range(0, len(values), FIELDS):
        out.append(csv_line(values[i], values[i + 1], values[i + 2], values[i + 3], KINDS[values[i + 4]],
                            values[i + 5]) + "\n")
    return "".join(out)
