"""The control plane service: FastAPI app, console, /metrics, dispatcher."""
