// Runs the firmware's logic tests under real MicroPython (the WebAssembly build from
// npm, @micropython/micropython-webassembly-pyscript) in Node.js.
//
//   node micropython_runner.mjs <repo root> <heap KiB> <test module> [<test module> ...]
//   node micropython_runner.mjs <repo root> <heap KiB> --script <file.py>
//
// Copies firmware/pico_bell, firmware/pico_host/fakes.py and tests/firmware/logic into
// MicroPython's in-memory file system under /lib, imports each test module, calls its
// test_* functions (awaiting the async ones) and prints one line per test:
//   @@RESULT {"module": ..., "test": ..., "ok": true|false, "error": "traceback"}
// Other printed lines are the tests' own output, and after each module "@@HEAP <module>"
// and micropython.mem_info(), whose "GC: total" shows whether the heap had to grow
// beyond <heap KiB> so far (this port adds heap when an allocation does not fit,
// where a Pico W would raise MemoryError). With --script, the file runs instead
// (after the same copying), for tests that check MicroPython's output on the host.
// The exit status is non-zero only when the runner itself (or the script) fails.
import fs from "node:fs";
import path from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const [root, heapKiB, ...modules] = process.argv.slice(2);
if (!root || !heapKiB || modules.length === 0) {
  console.error("usage: micropython_runner.mjs <repo root> <heap KiB> <module>...");
  process.exit(2);
}

const mp = await loadMicroPython({
  heapsize: Number(heapKiB) * 1024,
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
});

function copyTree(from, to, keep) {
  mp.FS.mkdirTree(to);
  for (const name of fs.readdirSync(from)) {
    const source = path.join(from, name);
    if (fs.statSync(source).isFile() && keep(name)) {
      mp.FS.writeFile(`${to}/${name}`, fs.readFileSync(source));
    }
  }
}

const isPython = (name) => name.endsWith(".py");
copyTree(path.join(root, "firmware", "pico_bell"), "/lib/pico_bell", (name) =>
  isPython(name) && name !== "config.py" && !name.startsWith("config."),
);
copyTree(path.join(root, "firmware", "pico_host"), "/lib/pico_host", (name) =>
  ["__init__.py", "fakes.py"].includes(name),
);
copyTree(path.join(root, "tests", "firmware", "logic"), "/lib/logic", (name) =>
  isPython(name) && name !== "conftest.py",
);

const script = modules[0] === "--script" ? fs.readFileSync(modules[1], "utf8") : null;

const driver = script ?? `
import asyncio, gc, io, json, micropython, sys

print("@@IMPLEMENTATION " + json.dumps([sys.implementation.name, sys.version]))

def _report(module, test, ok, error):
    print("@@RESULT " + json.dumps({"module": module, "test": test, "ok": ok, "error": error}))

def _traceback(err):
    buf = io.StringIO()
    sys.print_exception(err, buf)
    return buf.getvalue()

async def _guard(coro):
    # Run in a task of its own that never raises: this port's top-level coroutine
    # cannot have an exception thrown into it (as asyncio.wait_for would).
    try:
        await coro
        return ""
    except Exception as err:
        return _traceback(err)

for _name in ${JSON.stringify(modules)}:
    try:
        _module = __import__("logic." + _name, None, None, [_name])
    except Exception as _err:
        _report(_name, "<import>", False, _traceback(_err))
        continue
    for _test in sorted(n for n in dir(_module) if n.startswith("test_")):
        gc.collect()
        try:
            _result = getattr(_module, _test)()
            _error = ""
            if hasattr(_result, "send"):
                _error = await asyncio.create_task(_guard(_result))
            _report(_name, _test, not _error, _error)
        except Exception as _err:
            _report(_name, _test, False, _traceback(_err))
    # "GC: total: N": the heap size so far; it grows past its start only when full.
    print("@@HEAP " + _name)
    micropython.mem_info()
print("@@DONE")
`;

try {
  await mp.runPythonAsync(driver);
} catch (error) {
  console.error(error.name === "PythonError" ? error.message : String(error));
  process.exit(1);
}
