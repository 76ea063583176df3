"""The reviewers' console (issue 15): a Flask app over the incident log and review index.

    baomi console --data-dir var            # proxy/cli/console.py -> app.create_app -> serve

Modules: ``app`` (factory, blueprints), ``web`` (session, CSRF, headers, ``require_role``,
``render``), ``auth`` (login, language), ``sessions`` (server-side sessions, login
throttle), ``users`` (accounts, argon2id), ``text`` (every word, en + zh-CN),
``incidents`` + ``queue`` + ``structure`` (the incident pages), ``serve`` (tornado).
How a blueprint plugs in: README.md in this folder.
"""
