"""Record a notebook on a Docker daemon, replay it anywhere.

One line at the top of a notebook::

    import dockerviz
    dockerviz.recording("recordings/my-notebook")

With a daemon that answers, the notebook runs live. Asked to record
(``DOCKERVIZ_RECORDING=record`` in the kernel's environment, or
``mode="record"``), every dockerviz call also writes down what it returned.
Without a daemon (Binder, a laptop without Docker, a CI runner), every call
returns its recorded answer instead, in the same views, under a banner that
says when and on what engine it was recorded. A call the recording has no
answer for raises a RecordingError naming it.

Modes (``mode=``, else the environment variable DOCKERVIZ_RECORDING):
``auto`` (default: live when a daemon answers, replay otherwise), ``live``,
``record`` and ``replay``. ``dockerviz.recording`` returns the Recording (its
display says the mode); ``with dockerviz.recording(path):`` limits it to a
block.

The calls recorded: ``build`` (the steps, the log and the error of the build),
``run`` and ``container`` (the container's state), every ContainerView
operation (``start``, ``stop``, ``pause``, ``unpause``, ``restart``,
``remove``, ``exec`` with its output, ``refresh``, ``sizes``, ``diff``,
``wait``: the state after it, with sizes and changes measured again),
``monitor`` (the samples, and each container's sizes when it stopped),
``analyze`` of a daemon image (a blanked archive), and ``cleanup``.
Everything else (``compare``, ``layers``, ``usage_summary``, ``builds``...)
works on what those return, so it needs no recording.

The format, version 1: a folder holding ``recording.json`` and the image
archives it names. recording.json is a JSON object written with sorted keys
and one value a line, so a re-recording reviews as a diff::

    {"format": "dockerviz.recording", "version": 1,
     "recorded_at": <epoch seconds>, "dockerviz": "<version>",
     "engine": {"version", "api_version", "os", "arch"},
     "calls": [{"call": "build" | "run" | "container" | "container.<op>" | "monitor" | "analyze" | "cleanup",
                "match": {<the arguments that name the call: tags, image and name, container...>},
                "at": <epoch seconds>,
                "answer": <what it returned>}, ...]}

A replayed call takes the next entry with the same call and match (the last
one again when a cell runs more often than it was recorded). A newer version
is refused with a RecordingError. Images are `docker save` archives whose
file contents are zeros (headers, config and history as the engine wrote
them; see blank.py). Environment values whose names look secret are masked
in what is written; values from images are escaped when shown, as live.

``python -m dockerviz.recorder record notebooks/`` records every NN-*.ipynb
of a folder, running each one with DOCKERVIZ_RECORDING=record.
"""

from __future__ import annotations

from .session import FILE, FORMAT, MODE_ENV, VERSION, Recording, active, choose_mode

__all__ = ["FILE", "FORMAT", "MODE_ENV", "VERSION", "Recording", "active", "choose_mode", "recording"]


def recording(path, mode: str | None = None, *, engine=None) -> Recording:
    """Run the dockerviz calls that follow under the recording in folder `path`: live,
    recorded there, or replayed from it (mode: "auto", "live", "record", "replay"; default
    from DOCKERVIZ_RECORDING, else auto). Returns the Recording; also a context manager."""
    previous = active()
    if previous is not None:  # the notebook's line run again: start over
        previous.close()
    return Recording(path, mode, engine=engine).activate()
