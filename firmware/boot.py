# Runs first at every start, before anything imports the firmware. Its jobs: finish a deploy that
# was interrupted (power cut, cable pulled) after it was committed, so the firmware is never a mix of
# two versions (`gullwing deploy` runs this same code to apply a deploy, so there is one way to do it);
# and put back a main.py that has gone missing, from the spare copy the deploy left, since MicroPython
# runs main.py after boot.py only if it is there then (ports/esp32/main.c: mp_task, pyexec_file_if_exists):
# without it the board would sit at the prompt with nothing driven and nothing answering.
import os

COMMIT = "/.gullwing/commit.json"
MANIFEST = "/.gullwing/manifest.json"
MAIN = "/main.py"
SPARE_MAIN = "/.gullwing/main.py"


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _make_dirs(path):
    parts = path.split("/")[1:-1]
    at = ""
    for part in parts:
        at += "/" + part
        if not _exists(at):
            os.mkdir(at)


def _clear(path):
    """Make room for a file: FAT refuses to rename over one, and a folder in its place is set aside."""
    if os.stat(path)[0] & 0x4000:  # S_IFDIR
        aside = path + ".aside"
        while _exists(aside):
            aside += "_"
        os.rename(path, aside)
    else:
        os.remove(path)


def finish_deploy():
    if not _exists(COMMIT):
        return
    import json

    with open(COMMIT) as f:
        plan = json.load(f)
    for staged, target in plan["moves"]:
        if _exists(staged):  # else it was moved before the interruption
            _make_dirs(target)
            try:
                os.rename(staged, target)  # LittleFS replaces the old file in one step
            except OSError:
                _clear(target)
                os.rename(staged, target)
    for path in plan["deletes"]:
        if _exists(path):
            os.remove(path)
    with open(MANIFEST + ".new", "w") as f:
        json.dump(plan["manifest"], f)
    os.rename(MANIFEST + ".new", MANIFEST)
    os.remove(COMMIT)


def restore_main():
    if _exists(MAIN) or not _exists(SPARE_MAIN):
        return
    print("boot.py: main.py was missing; put back from " + SPARE_MAIN)
    with open(SPARE_MAIN, "rb") as src, open(MAIN + ".new", "wb") as dst:
        dst.write(src.read())
    os.rename(MAIN + ".new", MAIN)


finish_deploy()
restore_main()
