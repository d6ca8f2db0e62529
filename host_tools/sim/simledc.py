"""The LEDC PWM peripheral's arithmetic: which clock and resolution a frequency gets, the timer divider, and
the duty grid. The per-chip sizes (channels, timers, timer width, REF_TICK) are in host_tools/chips.py.

LEDC arithmetic follows MicroPython's ports/esp32/machine_pwm.c (1.29) over ESP-IDF 5.5 (ledc.c):
the timer resolution is the highest the source clock allows for the frequency, capped at 16 bits and
kept one bit below the timer width (a hardware erratum), and duty values are quantised to that grid.
"""

APB_CLK_HZ = 80_000_000
REF_TICK_HZ = 1_000_000
REF_TICK_BELOW_HZ = 10  # ESP32/S2 switch to the 1 MHz REF_TICK below this frequency
MAX_PWM_FREQ_HZ = 40_000_000
DIV_FRAC_BITS = 8  # the LEDC clock divider is fixed point, 8 fractional bits
DIV_MAX = (1 << 18) - 1  # 10 integer + 8 fractional bits
MAX_16_DUTY = 1 << 16


# ESP-IDF error codes, and the OSError ports/esp32/mphalport.c: check_esp_err_() makes of one:
# OSError(-code, name), ESP_FAIL (-1) giving errno 1.
ESP_FAIL = -1
ESP_ERR_INVALID_ARG = 0x102


def esp_error(code):
    return OSError(-code, "ESP_FAIL" if code == ESP_FAIL else "ESP_ERR_INVALID_ARG")


def ledc_source_hz(chip, freq):
    """The clock ports/esp32/machine_pwm.c: set_freq() picks: REF_TICK (1 MHz) below 10 Hz on the chips
    that have it, else APB (80 MHz)."""
    return REF_TICK_HZ if chip.ref_tick and freq < REF_TICK_BELOW_HZ else APB_CLK_HZ


def duty_resolution(chip, src, freq):
    """machine_pwm.c: find_suitable_duty_resolution(): ESP-IDF's ledc_find_suitable_duty_resolution()
    (0 when no divider fits), capped at 16 bits, one bit below the timer width (a hardware erratum)."""
    bits = _suitable_bits(src, freq, chip.ledc_timer_bits)
    if bits > 16:
        bits = 16
    if bits >= chip.ledc_timer_bits:
        bits -= 1
    return bits


class LedcTimer:
    """One LEDC timer as configured: clock source, duty resolution, the fixed-point divider, and the
    frequency MicroPython asked of it (machine_pwm.c keeps that in timers[].freq)."""

    def __init__(self):
        self.requested_hz = -1
        self.src_hz = 0
        self.bits = 0
        self.divider = 0

    def configure(self, src, bits, freq):
        """ESP-IDF ledc_timer_config() / ledc_set_freq() (ledc.c: ledc_set_timer_div()): raises the
        error check_esp_err() makes, changing nothing, when the divider does not fit. Allocates
        nothing unless it raises, so that a tone changing every tick is measured, not the simulator."""
        if bits <= 0:
            raise esp_error(ESP_ERR_INVALID_ARG)  # ledc_timer_config(): duty_resolution 0
        div = _divider(src, freq, bits)
        if div < (1 << DIV_FRAC_BITS) or div > DIV_MAX:
            raise esp_error(ESP_FAIL)  # ledc_set_timer_div(): "can not be achieved"
        self.requested_hz = freq
        self.src_hz = src
        self.bits = bits
        self.divider = div

    def actual_hz(self):
        """ESP-IDF 5.5 ledc_get_freq(): what the divider really produces, rounded."""
        precision_div = self.divider << self.bits
        return ((self.src_hz << DIV_FRAC_BITS) + precision_div // 2) // precision_div

    def period_ns(self):
        return (self.divider << self.bits) * 1_000_000_000 // (self.src_hz << DIV_FRAC_BITS)

    def raw_duty(self, duty16):
        """The channel's duty register for a 16-bit duty (0..65536)."""
        return duty16 >> (16 - self.bits)

    def read_duty16(self, raw):
        """machine_pwm.c: get_duty_u16(): the duty register scaled to 16 bits, 65536 read as 65535."""
        duty = raw << (16 - self.bits)
        return MAX_16_DUTY - 1 if duty == MAX_16_DUTY else duty

    def high_ns(self, raw):
        """How long the output is really high each period for a duty register value."""
        return (raw * self.divider * 1_000_000_000 + (self.src_hz << (DIV_FRAC_BITS - 1))) // (
            self.src_hz << DIV_FRAC_BITS)

    def step_ns(self):
        """The duty grid: one count of the duty register, in ns (ESP32 at 50 Hz: 305)."""
        return self.high_ns(1)


def _ilog2(n):
    bits = -1
    while n:
        n >>= 1
        bits += 1
    return bits


def _divider(src, freq, bits):
    # ESP-IDF ledc.c: ledc_calculate_divisor(), rounded, 8 fractional bits
    precision = freq << bits
    return ((src << DIV_FRAC_BITS) + precision // 2) // precision


def _suitable_bits(src, freq, width):
    # ESP-IDF ledc_find_suitable_duty_resolution(): the highest resolution whose divider fits, else 0.
    bits = min(_ilog2((src + freq // 2) // freq), width)
    div = _divider(src, freq, bits)
    if div < (1 << DIV_FRAC_BITS) or div > DIV_MAX:
        bits = min(_ilog2(src // freq), width)
        div = _divider(src, freq, bits)
        if div < (1 << DIV_FRAC_BITS) or div > DIV_MAX:
            bits = 0
    return bits


def ns_to_duty16(ns, freq):
    """MicroPython's duty_ns() -> 16-bit duty, rounded; a non-zero width never rounds to zero."""
    duty = (ns * MAX_16_DUTY * freq + 500_000_000) // 1_000_000_000
    if ns > 0 and duty == 0:
        return 1
    return MAX_16_DUTY if duty > MAX_16_DUTY else duty


def duty16_to_ns(duty, freq):
    return (duty * 1_000_000_000 + freq * (MAX_16_DUTY // 2)) // (freq * MAX_16_DUTY)
