"""A 9-tool home-assistant app, written as a new user would, for the offline-router checks."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from funcroute import ToolSet


class Room(str, Enum):
    """Rooms of the house."""

    kitchen = "kitchen"
    bedroom = "bedroom"
    living_room = "living room"
    office = "office"
    bathroom = "bathroom"


class Door(str, Enum):
    """Doors with a smart lock."""

    front = "front"
    back = "back"
    garage = "garage"


class Item(BaseModel):
    """One shopping-list entry."""

    name: str = Field(description="What to buy, e.g. apples or milk.")
    quantity: float = Field(1, description="How many or how much.")
    unit: str | None = Field(None, description="The unit of the quantity, e.g. kg or bottles.")


def build_home_tools() -> tuple[ToolSet, list[tuple[str, dict[str, object]]]]:
    """The app's tools and a log of every call that ran (name, arguments)."""
    tools = ToolSet()
    ran: list[tuple[str, dict[str, object]]] = []

    @tools.tool
    def get_weather(
        city: Annotated[str, Field(description="The city to get the forecast for.")],
        date: Annotated[str | None, Field(description="The day of the forecast, YYYY-MM-DD.")] = None,
    ) -> str:
        """Get the weather forecast for a city."""
        ran.append(("get_weather", {"city": city, "date": date}))
        return f"sunny in {city}"

    @tools.tool
    def set_thermostat(
        room: Annotated[Room, Field(description="The room whose heating to set.")],
        temperature: Annotated[float, Field(description="The target temperature.")],
        unit: Annotated[
            Literal["celsius", "fahrenheit"], Field(description="The temperature unit.")
        ] = "celsius",
    ) -> str:
        """Set the thermostat of a room to a target temperature (heat or cool it)."""
        ran.append(("set_thermostat", {"room": room.value, "temperature": temperature, "unit": unit}))
        return "ok"

    @tools.tool
    def switch_lights(
        room: Annotated[Room, Field(description="The room whose lights to switch.")],
        state: Annotated[Literal["on", "off"], Field(description="Whether the lights should be on or off.")],
    ) -> str:
        """Switch the lights of a room on or off."""
        ran.append(("switch_lights", {"room": room.value, "state": state}))
        return "ok"

    @tools.tool
    def add_to_shopping_list(item: Item) -> str:
        """Add an item to the shopping list."""
        ran.append(("add_to_shopping_list", {"item": item.model_dump()}))
        return "added"

    @tools.tool
    def play_music(
        query: Annotated[str, Field(description="The album, song or artist to play.")],
        room: Annotated[Room, Field(description="The room to play it in.")] = Room.living_room,
    ) -> str:
        """Play an album, a song or an artist on the speakers."""
        ran.append(("play_music", {"query": query, "room": room.value}))
        return "playing"

    @tools.tool
    def set_timer(
        minutes: Annotated[int, Field(description="How many minutes the timer runs.", gt=0)],
        label: Annotated[str | None, Field(description="A name for the timer.")] = None,
    ) -> str:
        """Start a countdown timer."""
        ran.append(("set_timer", {"minutes": minutes, "label": label}))
        return "started"

    @tools.tool
    def send_message(
        to: Annotated[str, Field(description="The contact to send the message to.")],
        text: Annotated[str, Field(description="The message text.")],
    ) -> str:
        """Send a text message to a contact."""
        ran.append(("send_message", {"to": to, "text": text}))
        return "sent"

    @tools.tool
    def lock_doors(doors: Annotated[list[Door], Field(description="The doors to lock.")]) -> str:
        """Lock the smart locks of some doors."""
        ran.append(("lock_doors", {"doors": [d.value for d in doors]}))
        return "locked"

    @tools.tool
    def set_alarm(
        time: Annotated[str, Field(description="The wake-up time, HH:MM.")],
        days: Annotated[
            list[Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]]
            | None,
            Field(description="The days the alarm repeats on."),
        ] = None,
    ) -> str:
        """Set a wake-up alarm."""
        ran.append(("set_alarm", {"time": time, "days": days}))
        return "set"

    return tools, ran
