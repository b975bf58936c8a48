"""The smoke test: prove a running stack works, part by part (`obsstack smoke`).

stack.py    the stack to check, read from the rendered compose project and .env, or from a native
            stack's endpoints.json: its endpoints, their logins, what is not deployed
checks/     one module per component, each a list of (component, check, function of the stack)
runner.py   runs the checks until they pass or a deadline, as results of obsstack.report
"""
