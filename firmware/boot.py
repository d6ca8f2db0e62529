# Runs first at every start, before anything imports the firmware. Its one job: finish a deploy that
# was interrupted (power cut, cable pulled) after it was committed, so the firmware is never a mix of
# two versions. `gullwing deploy` runs this same code to apply a deploy, so there is one way to do it.
import os

COMMIT = "/.gullwing/commit.json"
MANIFEST = "/.gullwing/manifest.json"


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
                os.remove(target)  # FAT refuses to rename over a file
                os.rename(staged, target)
    for path in plan["deletes"]:
        if _exists(path):
            os.remove(path)
    with open(MANIFEST + ".new", "w") as f:
        json.dump(plan["manifest"], f)
    os.rename(MANIFEST + ".new", MANIFEST)
    os.remove(COMMIT)


finish_deploy()
