"""The provider circuit breaker: the shared ``kit.breaker`` with the LLM defaults."""

from secretary.kit.breaker import BreakerState, CircuitBreaker

__all__ = ["BreakerState", "CircuitBreaker"]
