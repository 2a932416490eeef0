-- wrk_login.lua - POSTs the login body (env BENCH_EMAIL / BENCH_PASSWORD) with wrk.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email":"%s","password":"%s"}', os.getenv("BENCH_EMAIL"),
                         os.getenv("BENCH_PASSWORD"))
