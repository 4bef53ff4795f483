# Runs at every boot of the Pico W: starts the service bell.
# Hold button 1 while plugging the board in to skip it (maintenance mode: REPL only,
# no watchdog), e.g. when copying new files fails because the board keeps resetting.
import micropython

# Room to report an exception raised inside an interrupt handler.
micropython.alloc_emergency_exception_buf(100)

from pico_bell import app  # noqa: E402

app.main()
