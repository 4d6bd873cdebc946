"""The conversation core: neutral types, the engine, Redis-backed state, answerers, settings, CLI.

Imports knowledge/, never a platform SDK.
"""
