# The SMTP server of the tests and of `cargo xtask lighthouse`: aiosmtpd on 127.0.0.1 at the
# port given (argument 1; 0 for any), storing mail in the Maildir given (argument 2); prints
# the port once it listens.
import asyncio, sys
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP

async def main():
    loop = asyncio.get_running_loop()
    handler = Mailbox(sys.argv[2])
    server = await loop.create_server(lambda: SMTP(handler), '127.0.0.1', int(sys.argv[1]))
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
