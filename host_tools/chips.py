"""Facts of the ESP32 family, one table per chip: GPIOs, the pins it cannot or should not use, its UARTs,
LEDC sizes, hardware timers, CPU clocks and the heap the stock MicroPython build gives the firmware.

The board check (host_tools/boards.py) and the simulated board (host_tools/sim/simboard.py) both read these
tables, so a pin the simulator refuses is a pin the board check refuses. The simulator imports this file
under the MicroPython unix port too (simboard finds it beside its own folder): plain Python that
MicroPython runs, no imports.
"""


def _span(first, last):
    return tuple(range(first, last + 1))


class Chip:
    def __init__(self, name, gpios, flash, no_pin, input_only, strapping, usb, console, ledc_modes,
                 ledc_channels, ledc_timers, ledc_timer_bits, ref_tick, hw_timers, cpu_freqs, uarts, heap_kb,
                 i2s=0):
        self.name = name
        self.gpios = gpios  # every GPIO number the chip has
        self.flash = flash  # wired to the SPI flash inside the module: any use crashes the board
        # {GPIO: why}: GPIOs the chip has but stock MicroPython for it has no Pin for (machine_pin.h leaves
        # them out of the pin table), so Pin(n), PWM(n) and UART(tx=n) raise ValueError("invalid pin")
        self.no_pin = no_pin
        self.input_only = input_only  # no output driver, no pull resistors
        # sampled at reset: usable, but wiring can stop the board booting; {GPIO: what its level does}
        self.strapping = strapping
        self.usb = usb  # native USB D-/D+: usable, but the USB console goes away
        self.console = console  # UART0 (TX, RX): the boot ROM prints on TX; the REPL of bridge boards
        self.ledc_modes = ledc_modes  # speed modes (ESP32 has high and low speed groups)
        self.ledc_channels = ledc_channels  # channels per speed mode
        self.ledc_timers = ledc_timers  # timers per speed mode
        self.ledc_timer_bits = ledc_timer_bits  # width of the LEDC timer counter
        self.ref_tick = ref_tick  # has the 1 MHz REF_TICK clock for very low frequencies
        self.hw_timers = hw_timers  # ids accepted by machine.Timer
        self.cpu_freqs = cpu_freqs
        # SOC_UART_NUM of ESP-IDF's soc_caps.h: ports/esp32/machine_uart.c accepts UART(0) .. UART(uarts - 1)
        self.uarts = uarts
        # SOC_I2S_NUM of ESP-IDF's soc_caps.h: ports/esp32/machine_i2s.c accepts I2S(0) .. I2S(i2s - 1)
        self.i2s = i2s
        # the firmware's heap, in KB: MICROPY_GC_INITIAL_HEAP_SIZE of the stock build (ports/esp32/mpconfigport.h:
        # 56 KB on the ESP32, 64 KB elsewhere) doubled by the one automatic growth (py/gc.c: gc_try_add_heap)
        # each chip's internal RAM is sized for; PSRAM not counted
        self.heap_kb = heap_kb

    def __repr__(self):
        return "Chip(" + self.name + ")"

    def pin_problem(self, gpio, output):
        """Why this GPIO cannot be used (as an output when `output`), or None when it can."""
        if gpio not in self.gpios:
            return "invalid pin: " + self.name + " has no GPIO" + str(gpio)
        if gpio in self.flash:
            return "invalid pin: GPIO" + str(gpio) + " is wired to the SPI flash on " + self.name
        if gpio in self.no_pin:
            return ("invalid pin: MicroPython for " + self.name + " has no Pin(" + str(gpio) + "): "
                    + self.no_pin[gpio])
        if output and gpio in self.input_only:
            return "pin can only be input: GPIO" + str(gpio) + " on " + self.name + " has no output driver"
        return None


CHIPS = {}

_BOOT_BUTTON = "pulled low at reset it starts the download mode (it is the BOOT button)"
_FLASH_VOLTAGE = "pulled high at reset it selects 1.8 V flash and a 3.3 V module does not boot"
_DOWNLOAD_LOW = "pulled high at reset it stops the download mode that flashing needs"
# The stock builds (micropython.org's ESP32_GENERIC, _S2, _S3, _C3) and ports/esp32/machine_pin.h:
# S2 and S3 builds enable PSRAM (boards/sdkconfig.spiram_quad: CONFIG_SPIRAM), which drops GPIO26;
# the C3 build's console is the USB-Serial/JTAG port (MICROPY_HW_ESP_USB_SERIAL_JTAG), which drops 18/19.
# The S2/S3 table's USB exception tests CONFIG_USB_CDC_ENABLED, which ESP-IDF 5 never sets: GPIO19/20
# stay usable there, and using them ends the native USB console (the board check warns).
_PSRAM_CS = "its stock build runs PSRAM (CONFIG_SPIRAM), whose chip select is GPIO26"
_USB_JTAG_CONSOLE = "its console is the USB-Serial/JTAG port, whose D-/D+ are GPIO18/19"


def _add(chip):
    CHIPS[chip.name] = chip


_add(Chip(
    "ESP32",
    gpios=_span(0, 19) + (21, 22, 23, 25, 26, 27) + _span(32, 39),
    flash=_span(6, 11),
    no_pin={},  # the SPIRAM build also drops 16/17: the board check knows them as WROVER PSRAM pins
    input_only=_span(34, 39),
    strapping={0: _BOOT_BUTTON, 2: _DOWNLOAD_LOW,
               5: "it sets the SDIO timing at reset", 12: _FLASH_VOLTAGE,
               15: "pulled low at reset it silences the boot messages"},
    usb=(),
    console=(1, 3),
    ledc_modes=2, ledc_channels=8, ledc_timers=4, ledc_timer_bits=20, ref_tick=True,
    hw_timers=(0, 1, 2, 3), cpu_freqs=(80_000_000, 160_000_000, 240_000_000),
    uarts=3, heap_kb=2 * 56, i2s=2,
))
_add(Chip(
    "ESP32-S2",
    gpios=_span(0, 21) + _span(26, 46),
    flash=_span(27, 32),
    no_pin={26: _PSRAM_CS},
    input_only=(46,),
    strapping={0: _BOOT_BUTTON, 45: _FLASH_VOLTAGE, 46: _DOWNLOAD_LOW},
    usb=(19, 20),
    console=(43, 44),
    ledc_modes=1, ledc_channels=8, ledc_timers=4, ledc_timer_bits=14, ref_tick=True,
    hw_timers=(0, 1, 2, 3), cpu_freqs=(80_000_000, 160_000_000, 240_000_000),
    uarts=2, heap_kb=2 * 64, i2s=1,
))
_add(Chip(
    "ESP32-S3",
    gpios=_span(0, 21) + _span(26, 48),
    flash=_span(27, 32),
    no_pin={26: _PSRAM_CS},  # the SPIRAM_OCT build also drops 33-37: the board check knows them as PSRAM
    input_only=(),
    strapping={0: _BOOT_BUTTON, 3: "it selects the JTAG source at reset when an eFuse asks it to",
               45: _FLASH_VOLTAGE, 46: _DOWNLOAD_LOW},
    usb=(19, 20),
    console=(43, 44),
    ledc_modes=1, ledc_channels=8, ledc_timers=4, ledc_timer_bits=14, ref_tick=False,
    hw_timers=(0, 1, 2, 3), cpu_freqs=(80_000_000, 160_000_000, 240_000_000),
    uarts=3, heap_kb=2 * 64, i2s=2,
))
_add(Chip(
    "ESP32-C3",
    gpios=_span(0, 21),
    flash=_span(12, 17),  # upstream has Pin(12)/Pin(13), the flash's WP/HD: refused like every flash pin
    no_pin={18: _USB_JTAG_CONSOLE, 19: _USB_JTAG_CONSOLE},
    input_only=(),
    strapping={2: "it must be high at reset and has no pull-up of its own",
               8: "pulled low at reset it stops the download mode that flashing needs",
               9: _BOOT_BUTTON},
    usb=(18, 19),
    console=(21, 20),
    ledc_modes=1, ledc_channels=6, ledc_timers=4, ledc_timer_bits=14, ref_tick=False,
    hw_timers=(0, 1), cpu_freqs=(80_000_000, 160_000_000),
    uarts=2, heap_kb=2 * 64, i2s=1,
))


def chip(name):
    try:
        return CHIPS[name.upper()]
    except KeyError:
        raise ValueError("unknown chip " + repr(name) + "; known: " + ", ".join(sorted(CHIPS))) from None


# PSRAM that takes GPIOs beyond a chip's `flash` pins. Quad PSRAM on the S2 and S3 shares the flash
# pins (its chip select is GPIO26), so two kinds remain: ESP32 WROVER modules wire theirs to GPIO16 (CS)
# and GPIO17 (clock); octal PSRAM (and octal flash) on the S3 takes SPIIO4-7 and SPIDQS, GPIO33-37.
WROVER_PSRAM = (16, 17)
S3_OCTAL_PSRAM = _span(33, 37)

_MODULES = {}


def modules():
    """{module or chip package name: (chip name, GPIOs its PSRAM takes beyond the chip's flash pins)}.

    S3 ordering codes read N<flash MB>R<PSRAM MB>: R2 is quad PSRAM, R8 and R16 are octal. Built on first
    use, for the host tools only: the simulated board never needs it."""
    if not _MODULES:
        def add(chip_name, psram, names):
            for name in names:
                _MODULES[name] = (chip_name, psram)

        add("ESP32", (), ("ESP32-WROOM-32", "ESP32-WROOM-32D", "ESP32-WROOM-32U", "ESP32-WROOM-32E",
                          "ESP32-WROOM-32UE", "ESP32-WROOM-DA", "ESP32-SOLO-1"))
        add("ESP32", WROVER_PSRAM, ("ESP32-WROVER", "ESP32-WROVER-I", "ESP32-WROVER-B", "ESP32-WROVER-IB",
                                    "ESP32-WROVER-E", "ESP32-WROVER-IE"))
        add("ESP32-S2", (), ("ESP32-S2-MINI-1", "ESP32-S2-MINI-1U", "ESP32-S2-MINI-2", "ESP32-S2-MINI-2U",
                             "ESP32-S2-SOLO", "ESP32-S2-SOLO-U", "ESP32-S2-SOLO-2", "ESP32-S2-SOLO-2U",
                             "ESP32-S2-WROOM", "ESP32-S2-WROOM-I", "ESP32-S2-WROVER", "ESP32-S2-WROVER-I",
                             "ESP32-S2", "ESP32-S2FH2", "ESP32-S2FH4", "ESP32-S2FN4R2", "ESP32-S2R2"))
        for base in ("ESP32-S3-WROOM-1-", "ESP32-S3-WROOM-1U-"):
            add("ESP32-S3", (), [base + code for code in ("N4", "N8", "N16", "H4", "N4R2", "N8R2", "N16R2")])
            add("ESP32-S3", S3_OCTAL_PSRAM, [base + code for code in ("N4R8", "N8R8", "N16R8", "N16R16VA")])
        add("ESP32-S3", S3_OCTAL_PSRAM, ["ESP32-S3-WROOM-2-" + code for code in
                                         ("N16R8V", "N16R16V", "N32R8V", "N32R16V")])
        add("ESP32-S3", (), ("ESP32-S3-MINI-1-N8", "ESP32-S3-MINI-1-N4R2", "ESP32-S3-MINI-1U-N8",
                             "ESP32-S3-MINI-1U-N4R2", "ESP32-S3", "ESP32-S3FN8", "ESP32-S3FH4R2", "ESP32-S3R2"))
        add("ESP32-S3", S3_OCTAL_PSRAM, ("ESP32-S3R8", "ESP32-S3R8V", "ESP32-S3R16V"))
        add("ESP32-C3", (), ("ESP32-C3-MINI-1", "ESP32-C3-MINI-1U", "ESP32-C3-WROOM-02", "ESP32-C3-WROOM-02U",
                             "ESP32-C3", "ESP32-C3FN4", "ESP32-C3FH4", "ESP32-C3FH4AZ"))
    return _MODULES
