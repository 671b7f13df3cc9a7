"""dockerviz.build() against the real daemon, with both builders where it runs both.

Images are FROM scratch with a static busybox copied in, built with
network_mode="none" (no registry needed). Every tag starts with
dockerviz-test/build- and is removed at the end, with the images built.
"""

from __future__ import annotations

import os
import shutil
import textwrap
import threading
import time
import uuid

import pytest

import dockerviz
import dockerviz.building as dvb
from dockerviz.building import history
from dockerviz.errors import BuildError, DockervizError
from support import browser as B
from support import in_ci, proxy, unavailable
from support.jupyter import jupyter_server

BUSYBOX = "/bin/busybox"
TAG = "dockerviz-test/build-"
HEAD = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n'
ALL_BUILDERS = ["classic", "buildkit"]


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def daemon(docker_client):
    if not os.path.exists(BUSYBOX):
        unavailable(f"{BUSYBOX} is missing (apt-get install busybox-static)")
    return docker_client


@pytest.fixture(scope="module")
def built(daemon):
    """Records what the tests build; removes tags and images afterwards."""
    made = {"tags": set(), "ids": set()}
    first = len(history.all_builds())
    yield made
    for tag in made["tags"]:
        try:
            daemon.api.remove_image(tag, noprune=False)
        except Exception:
            pass
    # every image this module's builds made, final or intermediate (classic
    # builds that fail or are cancelled leave their finished steps' images),
    # newest first; one still used by anything else refuses removal and stays
    ids = list(made["ids"])
    for r in reversed(history.all_builds()[first:]):
        if r.image_id:
            ids.append(r.image_id)
        ids.extend(s.short_id for s in reversed(r.step_list()) if s.short_id)
    for iid in dict.fromkeys(ids):
        try:
            daemon.api.remove_image(iid, noprune=False)
        except Exception:
            pass


BUILDKIT_API = (1, 39)  # Engine 18.09: the first to run BuildKit builds for POST /build?version=2


@pytest.fixture(scope="module")
def buildkit_expected(daemon):
    """Should this daemon run BuildKit? Asked of the engine's own /version, never of dockerviz's build
    code: a regression in dockerviz's BuildKit path then fails the BuildKit tests instead of hiding them."""
    version = daemon.version()
    api = tuple(int(x) for x in str(version.get("ApiVersion", "0.0")).split(".")[:2])
    if version.get("Os", "linux") != "linux" or api < BUILDKIT_API:
        return f"the daemon ({version.get('Os')}, API {version.get('ApiVersion')}) runs no BuildKit"
    return None


@pytest.fixture(scope="module")
def buildkit_works(buildkit_expected):
    """True where the engine says it runs BuildKit; under CI=true one that does not fails the test."""
    if buildkit_expected and in_ci():
        pytest.fail(buildkit_expected, pytrace=False)
    return buildkit_expected is None


@pytest.fixture(params=ALL_BUILDERS)
def builder(request, buildkit_expected):
    if request.param == "buildkit" and buildkit_expected:
        unavailable(buildkit_expected)
    before = {id(r) for r in history.all_builds()}
    yield request.param
    # what ran is what was asked for: a BuildKit build that silently became a classic one fails
    wrong = [(r.requested_builder, r.builder) for r in history.all_builds() if id(r) not in before
             and r.builder and r.requested_builder in ALL_BUILDERS and r.builder != r.requested_builder]
    assert not wrong, f"builds that ran another builder than the one asked for: {wrong}"


@pytest.fixture
def ctx(tmp_path):
    """A build context with the static busybox; returns a writer for the Dockerfile."""
    shutil.copy(BUSYBOX, tmp_path / "busybox")

    def write(body, name="Dockerfile"):
        (tmp_path / name).write_text(HEAD + textwrap.dedent(body))
        return str(tmp_path)

    write.path = str(tmp_path)
    return write


@pytest.fixture
def no_thread_left():
    before = set(threading.enumerate())
    yield
    deadline = time.time() + 2
    while time.time() < deadline:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra:
            break
        time.sleep(0.02)
    assert not extra, f"threads left running: {extra}"


def token():
    return uuid.uuid4().hex[:10]


def track(built, result):
    built["tags"].update(result.tags)
    if result.image_id:
        built["ids"].add(result.image_id)
    return result


def expect_failure(_unused, **kw):
    with pytest.raises(BuildError) as ei:
        dvb.build(network_mode="none", **kw)
    err = ei.value
    assert isinstance(err, DockervizError)
    return err


# ---------------------------------------------------------------- builds that work

def test_cache_hits_on_second_run(ctx, builder, built, no_thread_left, daemon):
    t = token()
    tag = f"{TAG}cache:{builder}"
    body = f"RUN echo one-{t} > /one\nRUN echo two-{t} > /two\nRUN echo three > /three\n"
    r1 = track(built, dvb.build(ctx(body), tag=tag, builder=builder, network_mode="none", nocache=True))
    assert r1.builder == builder and r1.succeeded
    df1 = r1.steps
    assert not df1["cached"].any()
    # the changed step and every step after it run again; those before come from the cache
    r2 = track(built, dvb.build(ctx(body.replace(f"two-{t}", f"TWO-{t}")), tag=tag, builder=builder,
                                network_mode="none"))
    df = r2.steps.set_index("instruction")
    assert bool(df.loc["COPY busybox /bin/busybox", "cached"])
    assert bool(df.loc['RUN ["/bin/busybox","--install","-s","/bin"]', "cached"])
    assert bool(df.loc[f"RUN echo one-{t} > /one", "cached"])
    assert not bool(df.loc[f"RUN echo TWO-{t} > /two", "cached"])
    assert not bool(df.loc["RUN echo three > /three", "cached"])
    assert set(df.loc[df["cached"], "status"]) == {"cached"}
    # the data model
    assert list(r2.steps.columns) == ["step", "instruction", "cached", "started", "seconds", "layer_id",
                                      "layer_size", "status"]
    assert list(r2.steps["step"]) == list(range(1, len(r2.steps) + 1))
    assert df.loc["COPY busybox /bin/busybox", "layer_size"] == os.path.getsize(BUSYBOX)
    assert str(df.loc["COPY busybox /bin/busybox", "layer_id"]).startswith("sha256:")
    assert df.loc[f"RUN echo TWO-{t} > /two", "layer_size"] == len(f"TWO-{t}\n")
    info = daemon.api.inspect_image(tag)
    assert info["Id"] == r2.image_id and r2.size == info["Size"]
    assert r2.tags == [tag] and r2.seconds > 0
    assert r2.cached_steps >= 3
    # history of the session
    b = dvb.builds(tag)
    assert len(b) >= 2 and set(b["builder"]) == {builder}
    assert list(b.columns[:4]) == ["build", "tag", "builder", "status"]
    fig = dockerviz.builds_figure(tag)
    assert len(fig.axes) == 2
    assert len(fig.axes[1].patches) == len(b)


def test_inline_dockerfile(ctx, builder, built, no_thread_left):
    path = ctx("RUN false\n")  # the Dockerfile on disk would fail: the inline text must win
    t = token()
    # BuildKit would copy the generated Dockerfile with the whole context (see the tests further down)
    copy = "COPY . /ctx" if builder == "classic" else "COPY busybox /ctx/"
    text = HEAD + f"{copy}\nRUN ls -a /ctx && echo inline-ok-{t}\n"
    r = track(built, dvb.build(path, dockerfile=text, builder=builder, network_mode="none"))
    assert r.succeeded and f"inline-ok-{t}" in r.log
    assert r.dockerfile == "<inline>" and r.builder == builder
    assert ".dockerviz-Dockerfile" not in r.log


def test_dockerfile_path_outside_context(ctx, builder, built, tmp_path_factory, no_thread_left):
    path = ctx("RUN false\n")
    other = tmp_path_factory.mktemp("df") / "Build.dockerfile"
    t = token()
    other.write_text(HEAD + f"RUN echo outside-ok-{t}\n")
    r = track(built, dvb.build(path, dockerfile=str(other), builder=builder, network_mode="none"))
    assert f"outside-ok-{t}" in r.log


def test_build_args(ctx, builder, built, no_thread_left):
    path = ctx('ARG GREETING=hello\nRUN echo "greeting=$GREETING"\n')
    r = track(built, dvb.build(path, buildargs={"GREETING": "bonjour"}, builder=builder, network_mode="none",
                               nocache=True))
    assert "greeting=bonjour" in r.log


def test_target_stage(ctx, builder, built, no_thread_left, daemon):
    path = ctx("RUN echo base > /base\n\nFROM scratch AS final\nCOPY busybox /bin/busybox\n"
               "RUN echo final > /final\n")
    (os.path.join(path, "Dockerfile"))
    text = open(os.path.join(path, "Dockerfile")).read().replace("FROM scratch\n", "FROM scratch AS base\n", 1)
    open(os.path.join(path, "Dockerfile"), "w").write(text)
    tag = f"{TAG}target:{builder}"
    r = track(built, dvb.build(path, tag=tag, target="base", builder=builder, network_mode="none"))
    instructions = list(r.steps["instruction"])
    assert "RUN echo base > /base" in instructions
    assert "RUN echo final > /final" not in instructions
    assert r.target == "base"


def test_wait_false_returns_at_once(ctx, builder, built, no_thread_left):
    path = ctx(f"RUN sleep 1.5 && echo bg-{token()}\n")
    r = dvb.build(path, builder=builder, network_mode="none", wait=False)
    assert r.status == "building" and not r.done  # a build that waited would be done: its step takes 1.5 s
    assert r.wait() is r
    track(built, r)
    assert r.succeeded and r.image_id
    assert r.seconds >= 1.5


def test_cancel(ctx, builder, built, no_thread_left, daemon):
    t = token()
    path = ctx(f"RUN echo started-$((6*7))-{t} && sleep 60\n")  # its output is not its text
    r = dvb.build(path, builder=builder, network_mode="none", wait=False, nocache=True)
    deadline = time.time() + 30
    while not any("sleep 60" in s.instruction and s.status == "running" for s in r.step_list()):
        assert time.time() < deadline and not r.done, r.log
        time.sleep(0.05)
    while f"started-42-{t}" not in r.log:  # the step's shell has printed: it is in its sleep
        assert time.time() < deadline and not r.done, r.log
        time.sleep(0.05)
    r.cancel()
    assert r.wait(timeout=45) is r  # a cancelled build is not an error
    assert r.done, "the build went on after cancel()"
    assert r.cancelled and r.status == "cancelled" and r.image_id is None
    last = r.steps.iloc[-1]
    assert last["status"] == "cancelled"
    # the daemon stopped building: the classic builder's container goes away
    if builder == "classic":
        deadline = time.time() + 15
        while time.time() < deadline:
            running = [c for c in daemon.api.containers(all=True) if t in (c.get("Command") or "")]
            if not running:
                break
            time.sleep(0.2)
        assert not running


def test_cancel_from_the_view(ctx, builder, no_thread_left):
    from dockerviz.views.build_view import BuildView

    path = ctx(f"RUN sleep 60 # {token()}\n")
    r = dvb.build(path, builder=builder, network_mode="none", wait=False, nocache=True)
    view = BuildView(r)
    w = view.widget
    assert "dockerviz-build" in w._dom_classes
    deadline = time.time() + 30
    while not any("sleep 60" in s.instruction and s.status == "running" for s in r.step_list()):
        assert time.time() < deadline and not r.done
        time.sleep(0.05)
    view.w_cancel.click()
    r.wait()
    assert r.cancelled
    assert "Cancelled" in view.w_summary.value and view.w_cancel.disabled
    assert view.w_progress.bar_style == "warning"


# ---------------------------------------------------------------- failures

def test_failing_run_has_step_exit_code_and_log_tail(ctx, builder, no_thread_left, daemon):
    from dockerviz.views.build_view import BuildView

    t = token()
    failing = f"RUN echo before && echo 'oops <b>' >&2 && exit 3 # {t}"
    path = ctx(f"{failing}\nRUN echo never\n")
    r = None
    err = expect_failure(None, context=path, builder=builder, nocache=True)
    # the failed step's container is removed with the build (others' containers on a shared daemon aside)
    assert not [c["Id"] for c in daemon.api.containers(all=True) if t in (c.get("Command") or "")]
    assert err.exit_code == 3
    assert err.instruction == failing
    expected_step = 4 if builder == "classic" else 3  # BuildKit has no vertex for FROM scratch
    assert err.step == expected_step
    assert "before" in err.log_tail and "oops <b>" in err.log_tail
    assert f"Step {expected_step}" in str(err) and "exit code 3" in str(err)
    # the view shows the same, escaped
    r = history.all_builds()[-1]
    assert r.status == "failed" and r.error is err and err.result is r
    failed = r.steps[r.steps["status"] == "failed"]
    assert list(failed["step"]) == [expected_step]
    v = BuildView(r)
    v.widget
    assert f"Failed at step <b>{expected_step}</b>" in v.w_header.value
    assert "exit code 3" in v.w_summary.value and "oops &lt;b&gt;" in v.w_summary.value
    assert "<b>'" not in v.w_log.value and "oops &lt;b&gt;" in v.w_log.value
    assert v.w_progress.bar_style == "danger"


def test_syntax_error(ctx, builder, no_thread_left):
    path = ctx("RUN echo ok\nFOO bar\n")
    err = expect_failure(None, context=path, builder=builder)
    assert err.step == 5 and err.instruction == "FOO bar"
    assert "line 5" in str(err) and "FOO" in str(err)


def test_missing_context_directory(tmp_path, no_thread_left):
    err = expect_failure(None, context=str(tmp_path / "nope"))
    assert "does not exist" in str(err)


def test_missing_dockerfile(tmp_path, no_thread_left):
    err = expect_failure(None, context=str(tmp_path))
    assert "No Dockerfile" in str(err)
    err = expect_failure(None, context=str(tmp_path), dockerfile="docker/Dockerfile.dev")
    assert "not found" in str(err)


def test_dockerignore_is_honoured(ctx, builder, built, no_thread_left):
    path = ctx("COPY . /ctx\nRUN find /ctx | sort\n")
    os.makedirs(os.path.join(path, "build-output"))
    for name in ["kept.txt", "secret.txt", "build-output/big.bin", "notes.md"]:
        with open(os.path.join(path, name), "w") as f:
            f.write("x")
    with open(os.path.join(path, ".dockerignore"), "w") as f:
        f.write("# ignore these\nsecret.txt\nbuild-output\n*.md\n")
    r = track(built, dvb.build(path, builder=builder, network_mode="none", nocache=True))
    assert "/ctx/kept.txt" in r.log
    assert "secret.txt" not in r.log and "big.bin" not in r.log and "notes.md" not in r.log
    # copying an ignored file fails at that step
    with open(os.path.join(path, "Dockerfile"), "w") as f:
        f.write(HEAD + "COPY secret.txt /secret.txt\n")
    err = expect_failure(None, context=path, builder=builder, nocache=True)
    assert err.step == (4 if builder == "classic" else 3)
    assert "secret.txt" in str(err)


# ------------------------------------------------ what `COPY . /ctx/` puts in the image

def _ctx_dir(tmp_path, dockerignore=None, dockerfile="FROM scratch\nCOPY . /ctx/\n"):
    """A small context: kept.txt, secret.txt, notes.md, out/big.bin, and optionally a Dockerfile and .dockerignore."""
    (tmp_path / "out").mkdir()
    for name in ["kept.txt", "secret.txt", "notes.md", "out/big.bin"]:
        (tmp_path / name).write_text(name)
    if dockerfile is not None:
        (tmp_path / "Dockerfile").write_text(dockerfile)
    if dockerignore is not None:
        (tmp_path / ".dockerignore").write_text(dockerignore)
    return str(tmp_path)


def _image_ctx(built, **kw):
    """Build; the paths under /ctx of the image (relative), and the result."""
    import dockerviz

    r = track(built, dvb.build(network_mode="none", **kw))
    assert r.succeeded
    files = dockerviz.analyze(r.image_id, cache=False).files
    names = {p[len("/ctx/"):] for p in files["path"] if str(p).startswith("/ctx/")}
    return names, r


IGNORE = "# build noise\nsecret.txt\nout\n*.md\n"


def test_dockerignore_keeps_files_out_of_the_image(tmp_path, builder, built, no_thread_left):
    # .dockerignore lists itself, not the Dockerfile: the Dockerfile is copied, as with `docker build`
    path = _ctx_dir(tmp_path, IGNORE + ".dockerignore\n")
    names, r = _image_ctx(built, context=path, builder=builder)
    assert r.builder == builder
    assert names == {"kept.txt", "Dockerfile"}


def test_dockerignore_not_listing_itself_is_copied(tmp_path, builder, built, no_thread_left):
    path = _ctx_dir(tmp_path, IGNORE)
    names, r = _image_ctx(built, context=path, builder=builder)
    assert names == {"kept.txt", "Dockerfile", ".dockerignore"}


def test_dockerignore_listing_the_dockerfile_and_itself(tmp_path, built, buildkit_works, no_thread_left):
    path = _ctx_dir(tmp_path, IGNORE + "Dockerfile\n.dockerignore\n")
    names, r = _image_ctx(built, context=path, builder="classic")
    assert names == {"kept.txt"}
    # BuildKit without a session reads the Dockerfile from the uploaded context and
    # would copy it: "auto" builds with the classic builder, "buildkit" refuses
    names, r = _image_ctx(built, context=path, builder="auto")
    assert names == {"kept.txt"} and r.builder == "classic"
    if buildkit_works:
        assert "Using the classic builder" in r.log and "step 2 (COPY . /ctx/)" in r.log
    with pytest.raises(BuildError) as ei:
        dvb.build(path, builder="buildkit", network_mode="none")
    assert "builder='buildkit' cannot keep the Dockerfile out" in str(ei.value)
    assert "COPY . /ctx/" in str(ei.value)
    # copying named files leaves the Dockerfile unreachable: BuildKit is fine then
    if buildkit_works:
        (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY kept.txt /ctx/\n")
        names, r = _image_ctx(built, context=path, builder="buildkit")
        assert names == {"kept.txt"} and r.builder == "buildkit"
        names, r = _image_ctx(built, context=path, builder="auto")
        assert names == {"kept.txt"} and r.builder == "buildkit"


@pytest.mark.parametrize("where", ["inline", "outside"])
def test_inline_or_outside_dockerfile_never_reaches_the_image(tmp_path_factory, where, built, buildkit_works,
                                                               no_thread_left):
    copy_all = "FROM scratch\nCOPY . /ctx/\n"
    copy_named = "FROM scratch\nCOPY kept.txt notes.md /ctx/\n"
    root = tmp_path_factory.mktemp("c")
    # a Dockerfile on disk that .dockerignore lists is left out too, though it is not the one used
    path = _ctx_dir(root, IGNORE + "Dockerfile\n", dockerfile="FROM scratch\nRUN false\n")

    def dockerfile(text):
        if where == "inline":
            return text
        f = tmp_path_factory.mktemp("df") / "Build.dockerfile"
        f.write_text(text)
        return str(f)

    names, r = _image_ctx(built, context=path, dockerfile=dockerfile(copy_all), builder="classic")
    assert names == {"kept.txt", ".dockerignore"}  # the user's .dockerignore does not list itself
    names, r = _image_ctx(built, context=path, dockerfile=dockerfile(copy_all), builder="auto")
    assert names == {"kept.txt", ".dockerignore"} and r.builder == "classic"
    with pytest.raises(BuildError):
        dvb.build(path, dockerfile=dockerfile(copy_all), builder="buildkit", network_mode="none")
    # without a .dockerignore nothing but the context's files is copied
    os.remove(os.path.join(path, ".dockerignore"))
    names, r = _image_ctx(built, context=path, dockerfile=dockerfile(copy_all), builder="classic")
    assert names == {"kept.txt", "secret.txt", "notes.md", "out", "out/big.bin", "Dockerfile"}
    if buildkit_works:
        names, r = _image_ctx(built, context=path, dockerfile=dockerfile(copy_named), builder="buildkit")
        assert names == {"kept.txt", "notes.md"} and r.builder == "buildkit"


def test_which_instructions_reach_the_dockerfile():
    from dockerviz.building.context import context_reach, parse_instructions

    def reach(text, name=".dockerviz-Dockerfile-0"):
        ins = context_reach(parse_instructions("FROM scratch\n" + text), name)
        return ins.text if ins else None

    assert reach("COPY . /ctx/") == "COPY . /ctx/"
    assert reach("COPY --chown=1:1 ./ /ctx/")
    assert reach('ADD ["a", "/", "/x/"]')
    assert reach("COPY .dockerviz-* /x/") and reach("COPY * /x/") and reach("COPY $SRC /x/")
    assert reach("RUN --mount=target=/src cp -r /src /x") and reach("RUN --mount=type=bind,target=/s true")
    assert reach("COPY kept.txt notes.md /ctx/") is None
    assert reach("COPY --from=base / /x/") is None and reach("RUN --mount=type=cache,target=/c true") is None
    assert reach("ADD https://example.com/a.tgz /x/") is None and reach("COPY <<EOF /x\nhi\nEOF") is None
    assert reach("COPY docker /x/", "docker/Dockerfile") and reach("COPY docker/Dockerfile /x/", "docker/Dockerfile")
    assert reach("COPY dock /x/", "docker/Dockerfile") is None


def test_unknown_target(ctx, builder, no_thread_left):
    path = ctx("\nFROM scratch AS final\nCOPY busybox /bin/busybox\n")
    text = open(os.path.join(path, "Dockerfile")).read().replace("FROM scratch\n", "FROM scratch AS base\n", 1)
    open(os.path.join(path, "Dockerfile"), "w").write(text)
    err = expect_failure(None, context=path, builder=builder, target="nope")
    assert "nope" in str(err)
    assert "base, final" in str(err)  # the stages that do exist
    assert err.step is None  # no step ran


def test_bad_arguments_fail_before_any_thread(ctx, no_thread_left):
    with pytest.raises(BuildError):
        dvb.build(ctx(""), builder="kaniko")
    with pytest.raises(BuildError):
        dvb.build(ctx(""), tag="has space")
    with pytest.raises(BuildError):
        dvb.build(ctx(""), buildargs=["A=1"])


# ---------------------------------------------------------------- the daemon goes away

@pytest.fixture
def socket_proxy(tmp_path, monkeypatch):
    """A unix socket proxy to the real daemon; DOCKER_HOST points at it. Yields the process."""
    proc, host = proxy.start(str(tmp_path / "proxy.sock"))
    try:
        monkeypatch.setenv("DOCKER_HOST", host)
        yield proc
    finally:
        proxy.stop(proc)


def test_daemon_going_away_mid_build(ctx, builder, socket_proxy, no_thread_left):
    path = ctx(f"RUN echo going && sleep 30 # {token()}\n")
    r = dvb.build(path, builder=builder, network_mode="none", wait=False, nocache=True)
    deadline = time.time() + 30
    while not any("sleep 30" in s.instruction and s.status == "running" for s in r.step_list()):
        assert time.time() < deadline and not r.done, r.log
        time.sleep(0.05)
    socket_proxy.kill()
    socket_proxy.wait()
    t0 = time.time()
    with pytest.raises(BuildError) as ei:
        r.wait()
    assert time.time() - t0 < 25  # not the rest of the step's 30 s: the loss is noticed at once
    err = ei.value
    assert err.step == (4 if builder == "classic" else 3)
    assert "sleep 30" in err.instruction
    assert "daemon" in str(err)
    assert r.status == "failed"


def test_no_daemon_at_all(ctx, offline, no_thread_left):
    with pytest.raises(BuildError) as ei:
        dvb.build(ctx(""), builder="classic")
    assert "daemon" in str(ei.value).lower()


def test_keyboard_interrupt_cancels_a_blocking_build(ctx, builder, no_thread_left):
    """Interrupting the kernel while build(wait=True) blocks cancels the build, then propagates."""
    import _thread

    path = ctx(f"RUN sleep 60 # {token()}\n")
    stop = threading.Event()

    def interrupt_when_sleeping():
        # only while the step runs: an interrupt that lands anywhere else would end the whole test run
        deadline = time.time() + 60
        while time.time() < deadline and not stop.is_set():
            if _sleep_running():
                seen["interrupted_at"] = time.time()
                _thread.interrupt_main()
                return
            time.sleep(0.05)

    seen = {}

    def _sleep_running():
        r = seen.get("r")
        return r is not None and any("sleep 60" in s.instruction and s.status == "running" for s in r.step_list())

    from dockerviz.building import result as result_mod

    orig_init = result_mod.BuildResult.__init__

    def capture(self, *a, **kw):
        orig_init(self, *a, **kw)
        seen["r"] = self

    watcher = threading.Thread(target=interrupt_when_sleeping)
    result_mod.BuildResult.__init__ = capture
    try:
        watcher.start()
        with pytest.raises(KeyboardInterrupt):
            dvb.build(path, builder=builder, network_mode="none", nocache=True)
    finally:
        result_mod.BuildResult.__init__ = orig_init
        stop.set()
        watcher.join()
    r = seen["r"]
    assert r.cancelled and r.status == "cancelled"
    assert time.time() - seen["interrupted_at"] < 30  # not the 60 s the step would have slept


# ---------------------------------------------------------------- the view in a real browser

NOTEBOOK_CELL = r'''
import dockerviz.building as dvb
from dockerviz.errors import BuildError
try:
    dvb.build({ctx!r}, builder="classic", network_mode="none", nocache=True)
except BuildError as exc:
    print("BuildError at step", exc.step)
'''


@pytest.fixture
def jupyter_lab(daemon, tmp_path):
    """The shared JupyterLab server (tests/support/jupyter.py) in tmp_path/lab; its kernels import this
    checkout and inherit the environment naming the daemon (hence started after `daemon`)."""
    B.require_browser()
    with jupyter_server(tmp_path / "lab") as server:
        yield server


def _run_build_notebook(browser, lab, nb):
    """Open the notebook, run its set-up cell and its build cell; the page once the build view shows."""
    page = browser.new_page()
    page.goto(lab.lab_url(nb))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    B.run_first_cell(page, idle_timeout=60_000)
    page.keyboard.press("Shift+Enter")
    try:
        page.wait_for_selector(".jp-OutputArea-output .dockerviz-build", timeout=60_000)
    except Exception:
        page.screenshot(path=str(lab.root / "failure.png"))
        raise AssertionError("no build view; the notebook shows:\n" + page.inner_text(".jp-Notebook")
                             + "\nserver log:\n" + lab.log()[-3000:])
    return page


@pytest.mark.browser
def test_view_in_browser_shows_steps_and_failing_step(ctx, daemon, jupyter_lab):
    path = ctx(f"RUN echo step-four-{token()}\nRUN echo 'about to fail' && exit 7\n")
    nb = jupyter_lab.write_notebook("build.ipynb", [NOTEBOOK_CELL.format(ctx=path)])
    with B.chromium() as browser:
        page = _run_build_notebook(browser, jupyter_lab, nb)
        page.wait_for_function(
            "() => { const v = document.querySelector('.dockerviz-build');"
            " return v && v.innerText.includes('Build failed'); }", timeout=60_000)
        # the cell has printed the error: the build is over and the view redrawn as it ends (it replaces
        # the live one, so an element found before then may be gone)
        page.wait_for_function(
            "() => document.querySelector('.jp-Notebook').innerText.includes('BuildError at step 5')",
            timeout=30_000)
        view = page.locator(".jp-OutputArea-output .dockerviz-build").last
        view.screenshot(path=str(jupyter_lab.root / "view.png"))  # kept with the test's tmp files
        text = view.inner_text()
        assert "Failed at step 5 of 5" in text
        assert "RUN echo 'about to fail' && exit 7" in text
        assert "FAILED" in text and "exit code 7" in text
        assert "COPY busybox /bin/busybox" in text  # the earlier steps are listed too
        assert "about to fail" in text  # the log
        assert page.locator(".dockerviz-build .dvb-row-failed").count() == 1
        assert "Error displaying widget" not in page.inner_text(".jp-Notebook")


BLOCKING_CELL = r'''
import dockerviz.building as dvb
result = dvb.build({ctx!r}, builder="classic", network_mode="none", nocache=True)
'''


def _header(page) -> str:
    return page.inner_text(".dockerviz-build").split("\n", 1)[0]


@pytest.mark.browser
def test_blocking_build_view_keeps_time_and_interrupt_cancels(ctx, daemon, jupyter_lab):
    """build(wait=True) blocks its cell: the view still ticks, says how to cancel, shows no dead Cancel
    button, and interrupting the kernel stops the build (its step container included)."""
    path = ctx(f"RUN echo started-{token()} && sleep 120\n")
    nb = jupyter_lab.write_notebook("interrupt.ipynb", [BLOCKING_CELL.format(ctx=path)])
    with B.chromium() as browser:
        page = _run_build_notebook(browser, jupyter_lab, nb)
        page.wait_for_function(  # the sleeping step runs
            "() => [...document.querySelectorAll('.dockerviz-build tr')].some("
            " r => r.innerText.includes('sleep 120') && r.innerText.includes('running'))", timeout=60_000)
        view = page.locator(".dockerviz-build")
        assert "interrupt the kernel" in view.inner_text()
        assert view.get_by_role("button", name="Cancel build", exact=True).is_disabled()  # the name: no glyph
        first = _header(page)
        page.wait_for_timeout(2500)
        assert _header(page) != first, "the running time stopped while the cell waits"
        page.locator(".jp-Notebook .jp-Cell").nth(1).click()
        page.keyboard.press("Escape")
        page.keyboard.press("i")
        page.keyboard.press("i")  # JupyterLab: interrupt the kernel
        page.wait_for_function(
            "() => document.querySelector('.jp-Notebook').innerText.includes('KeyboardInterrupt')", timeout=60_000)
        page.wait_for_function(
            "() => document.querySelector('.dockerviz-build').innerText.includes('Cancelled')", timeout=30_000)
        assert "Error displaying widget" not in page.inner_text(".jp-Notebook")
    # the step's container went with the build (the classic builder removes it when the stream closes)
    deadline = time.time() + 30
    while time.time() < deadline and _sleeping(daemon):
        time.sleep(0.5)
    assert not _sleeping(daemon)


def _sleeping(client) -> bool:
    return any("sleep 120" in " ".join(c.attrs["Config"]["Cmd"] or []) for c in client.containers.list(all=True))
