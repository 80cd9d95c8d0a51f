"""The terminal and job control behave as when the program runs alone —
Ctrl-Z stops the job, `fg` resumes it, Ctrl-C ends it with status 130."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from conftest import luatrap, need, process_state


class Terminal:
    """An interactive bash in a tmux session, typed into and read like a person would.
    Each terminal has a tmux server of its own (-L): a server left by the last test exits
    when its session is killed, and a new session started meanwhile would reach it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tmux = ["tmux", "-L", name]
        subprocess.run([*self.tmux, "new-session", "-d", "-s", name, "-x", "200", "-y", "50",
                        "env PS1='ready$ ' bash --norc --noprofile -i"], check=True)
        self.wait_for("ready$")  # the shell reads what is typed from now on

    def type(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        return subprocess.run([*self.tmux, "capture-pane", "-pt", self.name], check=True,
                              capture_output=True, text=True).stdout

    def wait_for(self, text: str, timeout: float = 20) -> str:
        return self.wait_until(lambda screen: text in screen, timeout, repr(text))

    def wait_until(self, seen, timeout: float = 20, what: str = "the screen") -> str:
        """Wait until seen(screen) is true; the screen then."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            screen = self.screen()
            if seen(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{what} never appeared:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-session", "-t", self.name], check=False)


@pytest.fixture
def terminal(request):
    need("tmux")
    term = Terminal(f"luatrap-{request.node.name}".replace("[", "-").replace("]", ""))
    yield term
    term.close()


def test_ctrl_z_fg_and_ctrl_c(engine, rules, terminal):
    folder = rules({"getppid": "function do_syscall() return 1, 4242 end"})
    lt = f"{sys.executable} -m luatrap --engine {engine} --rules {folder}"
    terminal.type(f"{lt} bash -c 'for i in 1 2 3 4 5 6; do echo tick$i; sleep 0.4; done'",
                  "Enter")
    terminal.wait_for("tick2")
    terminal.type("C-z")
    screen = terminal.wait_for("Stopped")
    ticks = screen.count("tick")
    time.sleep(1.2)
    assert terminal.screen().count("tick") == ticks  # really stopped
    terminal.type("fg", "Enter")
    terminal.wait_for("tick6")
    terminal.type("echo status=$?", "Enter")
    terminal.wait_for("status=0")
    # (the quotes keep the typed command line itself from showing the word)
    terminal.type(f"{lt} bash -c 'echo run\"\"ning; exec sleep 30'", "Enter")
    terminal.wait_for("running")  # the program runs: Ctrl-C is the program's to take
    terminal.type("C-c")
    terminal.type("echo status=$?", "Enter")
    terminal.wait_for("status=130")


def test_interactive_shell_under_luatrap_survives_ctrl_c(engine, rules, terminal):
    """Readline waits in pselect6 with a signal mask; Ctrl-C there is bash's to handle."""
    folder = rules({"getppid": "function do_syscall() return 1, 4242 end"})
    terminal.type(f"{sys.executable} -m luatrap --engine {engine} --rules {folder} "
                  "bash --norc --noprofile -i", "Enter")
    terminal.type("echo inner-$((6 * 7))", "Enter")
    terminal.wait_for("inner-42")
    terminal.type("half-typed")
    terminal.wait_for("half-typed")
    prompts = terminal.screen().count("ready$")
    terminal.type("C-c")  # the shell drops the line and prompts again
    terminal.wait_until(lambda screen: screen.count("ready$") > prompts)
    terminal.type("echo ppid=$PPID", "Enter")
    terminal.wait_for("ppid=4242")  # still the shell under luatrap, its rule at work
    terminal.type("exit 7", "Enter")
    terminal.type("echo status=$?", "Enter")
    terminal.wait_for("status=7")


def test_a_program_that_stops_itself_continues_on_sigcont(engine, rules):
    folder = rules({"getppid": "function do_syscall() return 1, 4242 end"})
    proc = subprocess.Popen([sys.executable, "-m", "luatrap", "--engine", engine,
                             "--rules", str(folder), "bash", "-c",
                             "echo $$; kill -STOP $$; echo resumed"], stdout=subprocess.PIPE,
                            text=True)
    program = int(proc.stdout.readline())
    for _ in range(400):  # until the program has stopped itself (t: stopped, traced)
        if process_state(program) in ("T", "t"):
            break
        time.sleep(0.05)
    assert process_state(program) in ("T", "t")
    assert proc.poll() is None  # luatrap waits with it
    proc.send_signal(18)  # SIGCONT, passed on to the program
    assert proc.wait(timeout=20) == 0
    assert proc.stdout.read() == "resumed\n"


def test_closed_stdout_is_no_traceback(engine, rules):
    folder = rules({"write": "function do_syscall() return 0, 0 end"})
    r = subprocess.run(f"{sys.executable} -m luatrap --engine {engine} --rules {folder} "
                       "seq 1 100000 | head -1", shell=True, capture_output=True, text=True,
                       timeout=60)
    assert r.stdout == "1\n"
    assert "Traceback" not in r.stderr
    assert luatrap("true").returncode == 0

