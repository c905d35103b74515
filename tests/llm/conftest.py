from tests.llm._support import emulator, llm_server

__all__ = ["emulator", "llm_server"]
