#!/usr/bin/python3
"""delay_proxy.py LISTEN_PORT UPSTREAM_HOST:PORT DELAY_MS [LISTEN_HOST]: a TCP proxy that
holds every byte DELAY_MS in each direction (a long link on loopback)."""
import asyncio, sys, time

listen_port = int(sys.argv[1])
up_host, up_port = sys.argv[2].rsplit(":", 1)
delay = int(sys.argv[3]) / 1000.0
listen_host = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"

async def pump(reader, writer):
    q = asyncio.Queue()
    async def sender():
        while True:
            due, data = await q.get()
            if data is None:
                break
            d = due - time.monotonic()
            if d > 0:
                await asyncio.sleep(d)
            writer.write(data)
            await writer.drain()
        writer.close()
    t = asyncio.create_task(sender())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            q.put_nowait((time.monotonic() + delay, data))
    except Exception:
        pass
    q.put_nowait((0, None))
    try:
        await t
    except Exception:
        pass

async def handle(cr, cw):
    try:
        ur, uw = await asyncio.open_connection(up_host, int(up_port))
    except Exception:
        cw.close(); return
    await asyncio.gather(pump(cr, uw), pump(ur, cw))

async def main():
    srv = await asyncio.start_server(handle, listen_host, listen_port)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
