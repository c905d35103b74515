"""An HTTP emulator of the LLM providers: OpenAI, Anthropic and Gemini wire protocols.

One FastAPI server with scripted responses, a deterministic default responder, recorded
requests and per-provider fault injection, so the official SDKs are tested for real.
It owns no product logic and imports nothing from ``secretary.llm`` but the wire shapes.
"""
