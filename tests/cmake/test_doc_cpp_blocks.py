"""Every ```cpp block of docs/*.md is a whole program: built against the installed package
(find_package(deepcomp), as a C++ user builds), all in one CMake project, and run.

Run after tests/cmake/test_find_package.sh has installed deepcomp into build/install (make test-package).
A failure names the doc and the block: compile errors point into the Markdown file itself (#line).
"""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
PREFIX = ROOT / "build" / "install"
BUILD = ROOT / "build" / "doc_cpp_blocks"
CMAKE_LISTS = """cmake_minimum_required(VERSION 3.25)
project(deepcomp_doc_cpp_blocks LANGUAGES CXX)
find_package(deepcomp REQUIRED)
set(blocks {blocks})
list(POP_FRONT blocks first)
foreach(block ${{first}} ${{blocks}})
  add_executable(${{block}} ${{block}}.cpp)
  target_link_libraries(${{block}} PRIVATE deepcomp::deepcomp)
  target_compile_features(${{block}} PRIVATE cxx_std_20)
endforeach()
# LibTorch's headers are most of each block's compile time: parse them once, for all blocks.
target_precompile_headers(${{first}} PRIVATE <torch/torch.h> <deepcomp/deepcomp.h>)
foreach(block ${{blocks}})
  target_precompile_headers(${{block}} REUSE_FROM ${{first}})
endforeach()
"""


def cpp_blocks():
    """(doc name, block index, first line of the code in the doc, code) of every ```cpp block."""
    for doc in sorted((ROOT / "docs").glob("*.md")):
        text = doc.read_text()
        for index, match in enumerate(re.finditer(r"^```cpp\n(.*?)^```", text, re.S | re.M)):
            yield doc.name, index, text.count("\n", 0, match.start(1)) + 1, match.group(1)


def main() -> int:
    blocks = {f"{pathlib.Path(doc).stem}_{index}": (doc, index, line, code)
              for doc, index, line, code in cpp_blocks()}
    if not blocks:
        print("no ```cpp blocks in docs/: nothing to check", file=sys.stderr)
        return 1
    source = BUILD / "src"
    source.mkdir(parents=True, exist_ok=True)
    for name, (doc, _, line, code) in blocks.items():
        (source / f"{name}.cpp").write_text(f'#line {line} "docs/{doc}"\n{code}')
    (source / "CMakeLists.txt").write_text(CMAKE_LISTS.format(blocks=" ".join(blocks)))
    subprocess.run(["cmake", "-S", source, "-B", BUILD / "build", "-G", "Unix Makefiles",
                    f"-DCMAKE_PREFIX_PATH={PREFIX}"], check=True, stdout=subprocess.DEVNULL)
    for name in blocks:  # a block that no longer compiles must not leave its old program to run
        (BUILD / "build" / name).unlink(missing_ok=True)
    # make -k: every block that compiles is still run, and each that does not is named.
    subprocess.run(["cmake", "--build", BUILD / "build", "-j", "2", "--", "-k", "--no-print-directory"])
    failed = []
    for name, (doc, index, line, _) in blocks.items():
        where = f"docs/{doc}, ```cpp block {index} (line {line})"
        program = BUILD / "build" / name
        if not program.exists():
            failed.append(f"{where}: does not compile (errors above)")
            continue
        run_dir = BUILD / "run" / name  # the block's files (model.dcz, ...) land in a folder of its own
        run_dir.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([program], cwd=run_dir, capture_output=True, text=True)
        if result.returncode != 0:
            failed.append(f"{where}: exited with status {result.returncode}\n{result.stdout}{result.stderr}")
    for failure in failed:
        print(failure, file=sys.stderr)
    print(f"docs' ```cpp blocks: {len(blocks) - len(failed)} of {len(blocks)} built and ran")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
