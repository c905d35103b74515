"""`secretary llm-emulator serve` really serves: start it as a process, talk to it, stop it."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import openai

from secretary.emulators.llm.server import free_port


def test_serve_command_answers_the_openai_sdk() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "secretary", "llm-emulator", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_emulator/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the emulator did not start within 60 s"
            time.sleep(0.2)
        client = openai.OpenAI(api_key="k", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello from the cli"}]
        )
        assert answer.choices[0].message.content == "Emulated reply: hello from the cli"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()
