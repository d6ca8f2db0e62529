"""What the firmware does when something fails, so that the model is never left driven by a broken part.

- A part the configuration or the board refuses at start (a pin ESP-IDF will not take, a setting out of
  range) is a problem in `status`; the board runs on with the parts that work.
- A part that raises in the control tick is not driven again (a door's servo keeps its last pulse), and
  the rest goes to the safe state: motor silent, doors held where they are.
- An exception that escapes a task (a failed write) is the safe state too, reported; the task serves on.
Each is listed once in the app's `problems` (at most MAX_PROBLEMS: a fault repeating with new words each
time must not eat the heap) and said as `evt fault`.
"""

# what a part set up from the configuration may raise: our own checks (KeyError, ValueError, TypeError),
# ESP-IDF refusing a pin (OSError: check_esp_err) and the esp32 port out of LEDC channels or timers
# (RuntimeError)
REFUSALS = (KeyError, ValueError, TypeError, OSError, RuntimeError)
MAX_PROBLEMS = 16


def reason(exc):
    """The words of an exception, without its traceback."""
    if isinstance(exc, OSError) and len(exc.args) > 1:
        return str(exc.args[1])  # ESP-IDF's (errno, name): the name says it
    return str(exc.args[0]) if exc.args else type(exc).__name__


def note(problems, text):
    """`text` added to `problems` once, within MAX_PROBLEMS."""
    if text not in problems and len(problems) < MAX_PROBLEMS:
        problems.append(text)


def build(problems, name, make, *args):
    """make(*args), or None when the configuration or the board refuses it (a problem under `name`)."""
    try:
        return make(*args)
    except REFUSALS as exc:
        note(problems, name + ": " + reason(exc))
        return None


def part_failed(app, now_ms, part, exc):
    """`part` ("doors" or "engine outputs") raised in the tick: not driven again, the rest goes safe."""
    said = part + ": " + type(exc).__name__ + ": " + reason(exc)
    note(app.problems, said)
    if part == "doors":
        app.doors = None
    elif app.outputs is not None:
        outputs, app.outputs = app.outputs, None
        try:
            outputs.silence()
        except Exception:
            pass  # the pin that failed cannot be silenced either
    app.safe_state(now_ms)
    app.events.fault(said)


def task_failed(app, now_ms, task, exc):
    """An exception that escaped a task: the safe state, reported; the task serves on."""
    said = task + ": " + type(exc).__name__ + ": " + reason(exc)
    note(app.problems, said)
    try:
        app.safe_state(now_ms)
    except Exception:
        app.doors = None  # what failed to stop is not driven again
        app.outputs = None
    app.events.fault(said)
