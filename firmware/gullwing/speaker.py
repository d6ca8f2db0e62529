"""The engine's sound through an I2S amplifier (MAX98357A on the board's i2s_bck, i2s_ws, i2s_dout pins).

The audio task renders one block (sound.py: BLOCK samples, 16 ms) into its one buffer and hands it to the
I2S in non-blocking mode (extmod/machine_i2s.c: machine_i2s_irq): the driver's task copies the buffer into
the DMA ring as soon as a DMA buffer is free and then schedules the callback, which marks the buffer copied;
the task, looking every WAIT_MS, renders the next block into the same buffer and writes it. (It sleeps
rather than wait on a ThreadSafeFlag: a poll of an object without a file descriptor makes every turn of
the event loop on the unix port wait a millisecond, extmod/modselect.c, which slows the console.) The DMA ring
of DMA_BUFFERS buffers is the double buffer: a block is rendered while the one before it plays, so the
task may come back up to two blocks (32 ms) late without an underrun, and what it renders plays within
32 ms (a blow-off is heard within 50 ms of its event). Per block it allocates nothing: the buffer, the
callback (a bound method taken once) are made here.
"""

import asyncio
import time

from machine import I2S, Pin

from gullwing import schema
from gullwing.faults import build, task_failed
from gullwing.sound import BLOCK, RATE, Sound

I2S_ID = 0  # every chip has I2S0
FIRST_WAIT_MS = 10  # a block is copied into the DMA ring as the one before it ends playing: ~16 ms apart
WAIT_MS = 2  # then how often the task looks for it: well within the 16 ms the next block gives it
DMA_BUFFERS = 2  # the fewest the driver takes (machine_i2s.c: get_dma_buf_count), the least latency
IBUF = DMA_BUFFERS * 256 * 2  # ibuf in bytes: DMA_BUF_LEN_IN_I2S_FRAMES frames of 16-bit mono each
ROLES = ("i2s_bck", "i2s_ws", "i2s_dout")


def open_speaker(problems, cfg, pins):
    """The speaker when the board wires all three I2S pins, else None; a refusal is a problem under "sound"."""
    for role in ROLES:
        if role not in pins:
            return None
    volume = cfg["sound"]["volume"]
    try:
        schema.check(schema.SOUND, "volume", volume, "sound.")
    except ValueError:
        volume = schema.SOUND["volume"][0]  # out of range: config has said so (a problem); the default
    return build(problems, "sound", Speaker, pins, volume)


class Speaker:
    def __init__(self, pins, volume=100):
        self.sound = Sound(volume)  # checks the volume before the pins are touched
        self._buf = bytearray(2 * BLOCK)
        self._copied = False  # the block written last is in the DMA ring: the buffer is free again
        self._written = self._on_written  # bound once: the driver schedules it every block
        self._i2s = I2S(I2S_ID, sck=Pin(pins["i2s_bck"]), ws=Pin(pins["i2s_ws"]), sd=Pin(pins["i2s_dout"]),
                        mode=I2S.TX, bits=16, format=I2S.MONO, rate=RATE, ibuf=IBUF)

    def _on_written(self, i2s):
        self._copied = True

    async def run(self, app):
        """The audio task: one block per callback, each from the engine as it is. A failure is a fault
        (safe state, reported) and the amplifier is stopped."""
        i2s = self._i2s
        if i2s is None:
            return  # stopped before the task began
        i2s.irq(self._written)
        buf = self._buf
        try:
            while self._i2s is not None:
                self.sound.render(app.engine, buf)
                self._copied = False
                i2s.write(buf)
                await asyncio.sleep_ms(FIRST_WAIT_MS)
                while not self._copied:
                    await asyncio.sleep_ms(WAIT_MS)
        except Exception as exc:
            self.stop()
            task_failed(app, time.ticks_ms(), "sound", exc)

    def level(self):
        """How loud the block last rendered is: its peak in percent of full scale, rounded up (0: silent)."""
        buf = self._buf
        peak = 0
        for at in range(1, len(buf), 2):
            high = buf[at]
            if high >= 128:
                high = 255 - high  # -1 - x: the magnitude of a negative sample's high byte
            if high > peak:
                peak = high
        if peak == 0:
            return 1 if any(buf) else 0  # below 1 % still sounds
        return (peak * 100 + 127) // 128

    def stop(self):
        """The amplifier silent: the I2S deinit stops its clocks and the DMA (mp_machine_i2s_deinit), and the
        MAX98357A mutes when its clocks stop. Harmless twice."""
        i2s, self._i2s = self._i2s, None
        if i2s is not None:
            i2s.deinit()
