"""The intelligence layer: every step that "thinks" (classify, extract, draft, answer).

``schemas`` is the contract. Tiers implement ``IntelligenceTier``: the offline ``local`` tier
and the LLM providers (OpenAI, Anthropic, Gemini, Ollama) behind a failover chain that always
ends in ``local``. Email text is untrusted data here, never instructions.
"""
