"""Run many command lines of the project's commands, each in its own process, quickly.

    python tests/command_runner.py < argvs.json > results.json

Most of a command's start is importing torch. This process imports the commands once, then
forks one child per command line: the child runs `sys.exit(main(argv))` exactly as the script
would, with its own stderr, exit status and memory, and an uncaught exception prints its
traceback as in a fresh interpreter. Input: a JSON list of argv lists (["embed.py", ...] or
["-m", "minitransformer.evaluate", ...]), or of {"argv": [...], "stdin": text, "cwd": path}
(both optional: stdin empty, cwd the repository); output: a JSON list of {"returncode",
"stderr"}. An argument or stdin holding surrogate escapes ("caf\udce9", as Python hands over
the bytes caf\xe9 of a command line) stands for those bytes, as in sys.argv.
Elsewhere than on Linux (where forking after importing torch is unsafe, or impossible) each
command line runs in a fresh interpreter instead.
"""

import functools
import importlib
import importlib.util
import json
import os
import selectors
import subprocess
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def command_main(argv: list[str]):
    """(the command's main function, its arguments) for a command line."""
    if argv[0] == "-m":
        return importlib.import_module(argv[1]).main, argv[2:]
    spec = importlib.util.spec_from_file_location(f"command_{Path(argv[0]).stem}", ROOT / argv[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main, argv[1:]


def start_forked(main, arguments: list[str], stdin: bytes, cwd: Path) -> tuple[int, int]:
    """Fork a child that runs main(arguments); (its pid, the read end of its stderr pipe)."""
    read_end, write_end = os.pipe()
    stdin_read, stdin_write = os.pipe()
    os.write(stdin_write, stdin)  # a few bytes: they fit in the pipe's buffer
    os.close(stdin_write)
    pid = os.fork()
    if pid == 0:  # the child: stdin from the case, stdout empty, stderr into the pipe
        os.close(read_end)
        os.chdir(cwd)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(stdin_read, 0)
        os.dup2(null, 1)
        os.dup2(write_end, 2)
        if "torch" in sys.modules:  # the cores are shared by the children running at once
            sys.modules["torch"].set_num_threads(1)
        try:
            code = main(arguments)
        except SystemExit as exit_:  # as the interpreter treats it: None is 0, text is printed
            code = exit_.code
            if code is not None and not isinstance(code, int):
                print(code, file=sys.stderr)
                code = 1
            code = code or 0
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)
    os.close(write_end)
    os.close(stdin_read)
    return pid, read_end


def run_all_forked(starts: list, jobs: int) -> list[dict]:
    """Run the children that `starts` (functions that fork one each) make, `jobs` at a time.

    Most of a case is Python and small tensors, which one core runs as fast as two: one
    thread per child and one child per core use the machine best. The stderr pipes are read as
    they fill, so that no child blocks on a full pipe."""
    results: list[dict | None] = [None] * len(starts)
    selector = selectors.DefaultSelector()
    waiting = list(enumerate(starts))
    while waiting or selector.get_map():
        while waiting and len(selector.get_map()) < jobs:
            index, start = waiting.pop(0)
            pid, read_end = start()
            selector.register(read_end, selectors.EVENT_READ, (index, pid, bytearray()))
        for key, _ in selector.select():
            index, pid, chunks = key.data
            chunk = os.read(key.fd, 65536)
            if chunk:
                chunks += chunk
                continue
            selector.unregister(key.fd)
            os.close(key.fd)
            _, status = os.waitpid(pid, 0)
            results[index] = {"returncode": os.waitstatus_to_exitcode(status),
                              "stderr": chunks.decode("utf-8", "replace")}
    return results


def run_fresh(argv: list[str], stdin: bytes, cwd: Path) -> dict:
    command = [os.fsencode(word) for word in [sys.executable, *argv]]
    if argv[0] != "-m":
        command[1] = os.fsencode(ROOT / argv[0])  # the script, wherever the case runs
    result = subprocess.run(command, cwd=cwd, capture_output=True, input=stdin, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    return {"returncode": result.returncode, "stderr": result.stderr.decode("utf-8", "replace")}


def main() -> None:
    cases = [case if isinstance(case, dict) else {"argv": case} for case in json.load(sys.stdin)]
    for case in cases:
        case["stdin"] = case.get("stdin", "").encode("utf-8", "surrogateescape")
        case["cwd"] = Path(case.get("cwd", ROOT))
    os.chdir(ROOT)
    if sys.platform != "linux":  # fork after importing torch is only safe on Linux
        results = [run_fresh(case["argv"], case["stdin"], case["cwd"]) for case in cases]
    else:
        mains = {}
        for case in cases:  # every import before the first fork: children start ready
            argv = case["argv"]
            key = tuple(argv[:2]) if argv[0] == "-m" else argv[0]
            if key not in mains:
                mains[key] = command_main(argv)[0]
        starts = []
        for case in cases:
            argv = case["argv"]
            key = tuple(argv[:2]) if argv[0] == "-m" else argv[0]
            starts.append(functools.partial(start_forked, mains[key],
                                            argv[2:] if argv[0] == "-m" else argv[1:],
                                            case["stdin"], case["cwd"]))
        results = run_all_forked(starts, jobs=len(os.sched_getaffinity(0)))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
