-- wrk_auth.lua - adds the bearer token (env BENCH_TOKEN) to every wrk request.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
