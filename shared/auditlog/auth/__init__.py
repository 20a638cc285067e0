"""Who is calling and what they may do: tokens, roles and permissions, the allowlist, limits."""
