"""When to try a failed request again, and how long to wait: one policy for sync and async loops.

The policy is pure (no clock, no I/O), so the synchronous and the asynchronous request loops of a
backend make exactly the same decisions, and tests can check them without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_RETRY_AFTER", "RetryPolicy"]

#: The longest a server's ``Retry-After`` may make us wait, in seconds.
MAX_RETRY_AFTER = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with a bounded number of retries.

    Attributes:
        max_retries: how many times a retryable failure is retried (so ``max_retries + 1`` tries).
        backoff: the first retry waits this many seconds; each later one twice as long.

    Example:
        >>> policy = RetryPolicy(max_retries=2, backoff=0.5)
        >>> policy.delay(1), policy.delay(2), policy.delay(2, retry_after=3.0), policy.delay(3)
        (0.5, 1.0, 3.0, None)
    """

    max_retries: int = 3
    backoff: float = 0.5

    @property
    def tries(self) -> int:
        """The most tries a request gets."""
        return self.max_retries + 1

    def delay(self, failures: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before the next try, or ``None`` to give up.

        Args:
            failures: how many tries have failed so far (1 after the first failure).
            retry_after: the wait the server asked for (``Retry-After``), if any; a longer one
                than the backoff wins.

        Returns:
            The wait in seconds, or ``None`` when the retries are spent.

        Raises:
            ValueError: ``failures`` is below 1 (nothing has failed yet).
        """
        if failures < 1:
            raise ValueError(f"failures must be at least 1, got {failures}")
        if failures > self.max_retries:
            return None
        return max(self.backoff * float(1 << (failures - 1)), retry_after or 0.0)
