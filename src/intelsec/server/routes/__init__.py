"""API routers. Every module here exposing `router` (an APIRouter) is mounted by the app."""
