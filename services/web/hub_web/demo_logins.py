"""`python -m hub_web.demo_logins`: the demo users, a line each (deploy/local/hub.sh prints them)."""

from __future__ import annotations

from hub_web.config import DemoUser, WebSettings


def describe(user: DemoUser) -> str:
    if user.role == "link_worker":
        return f"{user.name}: link worker {user.subject}"
    if user.role == "coordinator":
        return f"{user.name}: coordinator for {', '.join(user.boroughs)}"
    if user.role == "organisation":
        return f"{user.name}: community organisation {user.organisation}"
    return f"{user.name}: referrer {user.organisation}"


def main() -> None:
    settings = WebSettings()
    if not settings.demo_login:
        print("demo sign-in is off (WEB_DEMO_LOGIN=false): sign in with a token")
        return
    for user in settings.demo_users:
        print(describe(user))


if __name__ == "__main__":
    main()
